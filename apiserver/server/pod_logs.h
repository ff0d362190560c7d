#pragma once
// File: apiserver/server/pod_logs.h
// pods/{name}/log: finds the pod's node, and proxies the agent's /containerLogs endpoint (at the
// Node's InternalIP and daemonEndpoints.kubeletEndpoint.Port), as the apiserver proxies the
// kubelet. `follow` streams line by line until the agent ends the stream or the client leaves.

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "core/http/http.h"
#include "core/json/value.h"

namespace berth::apiserver::server {

struct LogTarget {
  std::string base_url;  // http(s)://ip:port of the agent
  http::RelayTls tls;    // the client certificate for an https agent
  std::string path;      // /containerLogs/ns/pod/container?query
  bool follow = false;
};

// From the pod, its node and the request's query: where to fetch the log. InvalidArgument
// (400) for an unscheduled pod or a container name that is missing or unknown.
absl::StatusOr<LogTarget> ResolveLogTarget(const json::Value& pod, const json::Value& node,
                                           const http::Request& request, const http::RelayTls& agent_tls);

// The agent of `node`: its InternalIP and daemonEndpoints.kubeletEndpoint.Port. kUnavailable
// when the node publishes none.
absl::StatusOr<std::pair<std::string, int>> AgentEndpoint(const json::Value& node);

// Fetches (or, following, streams) the log; `write` gets text and returns false when the client
// is gone. Returns kUnavailable when the agent cannot be reached.
absl::Status FetchLog(const LogTarget& target, const std::function<bool(std::string_view)>& write,
                      const std::atomic<bool>& cancel);

}  // namespace berth::apiserver::server
