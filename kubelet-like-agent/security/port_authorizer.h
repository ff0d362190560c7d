#pragma once
// File: kubelet-like-agent/security/port_authorizer.h
// Who may use the agent's own port (exec, attach, port-forward, container logs), as the kubelet
// decides with --authentication-x509 and --authorization-mode=Webhook: the caller must present a
// client certificate of the cluster's client CA (else 401), and the apiserver is asked through a
// SubjectAccessReview whether that user may <verb> nodes/<subresource> of this node (else 403
// with the kubelet's words: `Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)`).
// Answers are cached as the kubelet caches them: allowed for 5 minutes, denied for 30 seconds.

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/http/http.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::agent {

struct NodeAccess {
  std::string user;
  std::vector<std::string> groups;
  std::string verb, subresource, node;
};

// The kubelet's mapping of a request to what is authorized: the HTTP method to a verb, the path
// to a subresource of nodes (stats, metrics, log, else proxy).
NodeAccess AccessOf(const http::Request& request, const std::string& node);

class PortAuthorizer {
 public:
  // Asks the apiserver; true when allowed. Errors are failures to ask (not cached).
  using Review = std::function<absl::StatusOr<bool>(const NodeAccess&)>;
  PortAuthorizer(std::string node, Review review, const Clock& clock) : node_(std::move(node)), review_(std::move(review)), clock_(clock) {}

  // 0 when the request may go on, else the status (401, 403, 503) with `message` set.
  int Check(const http::Request& request, std::string& message);

 private:
  std::string node_;
  Review review_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, std::pair<bool, absl::Time>> cache_;  // decision and when it expires
};

// A Review that creates a SubjectAccessReview through `create` (the agent's API client) and
// reads status.allowed from the answer.
PortAuthorizer::Review SubjectAccessReviewer(std::function<absl::StatusOr<json::Value>(const json::Value&)> create);

}  // namespace berth::agent
