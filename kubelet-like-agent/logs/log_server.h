#pragma once
// File: kubelet-like-agent/logs/log_server.h
// The agent's own HTTP endpoint (the kubelet's port): /exec, /attach and /portForward
// (streaming/stream_routes.h), /containerLogs/{namespace}/{pod}/{container}
// with follow, tailLines, sinceSeconds, sinceTime, timestamps, previous and limitBytes, read from
// the CRI-format files the container init writes; /healthz. The apiserver proxies pods/{name}/log
// here (the Node's daemonEndpoints carry the port).

#include <atomic>
#include <memory>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/http/http.h"
#include "kubelet-like-agent/security/port_authorizer.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/runtime/runtime.h"
#include "kubelet-like-agent/streaming/sessions.h"

namespace berth::agent {

struct LogQuery {
  bool follow = false, timestamps = false, previous = false;
  int64_t tail_lines = -1;       // -1: all
  int64_t limit_bytes = -1;
  absl::Time since = absl::InfinitePast();
};

// Renders the lines of a CRI log file (and its rotated predecessor) that match `query`.
// `offset` receives the size read, for following.
std::string RenderLog(const std::string& path, const LogQuery& query, int64_t* offset);

// The agent's port secured as the kubelet's: HTTPS, client certificates of the cluster's client
// CA, every request but /healthz authorized by the apiserver (security/port_authorizer.h).
struct PortSecurity {
  http::TlsOptions tls;
  std::shared_ptr<PortAuthorizer> authorizer;
};

class LogServer {
 public:
  // Without `security`: plain HTTP open to anyone who reaches it (development clusters only).
  static absl::StatusOr<std::unique_ptr<LogServer>> Start(const std::string& listen, runtime::Runtime& runtime,
                                                          const Clock& clock = RealClock::Get(),
                                                          std::optional<PortSecurity> security = std::nullopt);
  ~LogServer();
  int port() const { return server_->port(); }
  // Serves GET /metrics (authorized as nodes/metrics) with what `render` returns.
  void SetMetrics(std::function<std::string()> render) {
    std::lock_guard<std::mutex> lock(mu_);
    metrics_ = std::move(render);
  }
  size_t active_sessions() const { return sessions_->active(); }

 private:
  LogServer(runtime::Runtime& runtime, const Clock& clock)
      : runtime_(runtime), clock_(clock), sessions_(std::make_unique<streaming::StreamSessions>(runtime, clock)) {}
  void Handle(const http::Request& request, std::shared_ptr<http::Responder> responder);
  void Follow(std::shared_ptr<http::Stream> stream, std::string path, std::string container_id,
              LogQuery query, int64_t offset);

  runtime::Runtime& runtime_;
  const Clock& clock_;
  std::unique_ptr<streaming::StreamSessions> sessions_;
  std::unique_ptr<http::Server> server_;
  std::shared_ptr<PortAuthorizer> authorizer_;
  std::atomic<bool> stopping_{false};
  struct Follower {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex mu_;
  std::function<std::string()> metrics_;  // under mu_
  std::vector<Follower> followers_;  // finished ones are joined when the next follow starts
};

}  // namespace berth::agent
