#include "kubelet-like-agent/security/port_authorizer.h"

#include "core/strings/strings.h"

namespace berth::agent {
namespace {

constexpr absl::Duration kAllowedTtl = absl::Minutes(5);
constexpr absl::Duration kDeniedTtl = absl::Seconds(30);

std::string VerbOf(const std::string& method) {
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return "delete";
  return "get";
}

}  // namespace

NodeAccess AccessOf(const http::Request& request, const std::string& node) {
  NodeAccess a;
  if (request.peer.has_value()) {
    a.user = request.peer->common_name;
    a.groups = request.peer->organizations;
    a.groups.push_back("system:authenticated");
  }
  a.verb = VerbOf(request.method);
  a.node = node;
  const std::string& p = request.path;
  auto under = [&p](std::string_view prefix) { return p == prefix || p.rfind(StrCat(prefix, "/"), 0) == 0; };
  a.subresource = under("/stats") ? "stats" : under("/metrics") ? "metrics" : under("/logs") ? "log" : "proxy";
  return a;
}

int PortAuthorizer::Check(const http::Request& request, std::string& message) {
  if (!request.peer.has_value() || request.peer->common_name.empty()) {
    message = "Unauthorized";
    return 401;
  }
  NodeAccess a = AccessOf(request, node_);
  std::string key = StrCat(a.user, "\n", Join(a.groups, ","), "\n", a.verb, "\n", a.subresource);
  const absl::Time now = clock_.Now();
  bool allowed = false;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.second > now) {
      allowed = it->second.first;
      cached = true;
    }
  }
  if (!cached) {
    absl::StatusOr<bool> answer = review_(a);
    if (!answer.ok()) {
      message = StrCat("Authorization error (user=", a.user, ", verb=", a.verb, ", resource=nodes, subresource=",
                       a.subresource, "): ", answer.status().message());
      return 503;
    }
    allowed = *answer;
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() > 4096) cache_.clear();  // bounded: a flood of identities cannot grow it
    cache_[key] = {allowed, now + (allowed ? kAllowedTtl : kDeniedTtl)};
  }
  if (allowed) return 0;
  message = StrCat("Forbidden (user=", a.user, ", verb=", a.verb, ", resource=nodes, subresource=", a.subresource, ")");
  return 403;
}

PortAuthorizer::Review SubjectAccessReviewer(std::function<absl::StatusOr<json::Value>(const json::Value&)> create) {
  return [create = std::move(create)](const NodeAccess& a) -> absl::StatusOr<bool> {
    json::Value review = json::Value::MakeObject();
    review.Set("apiVersion", "authorization.k8s.io/v1");
    review.Set("kind", "SubjectAccessReview");
    json::Value& spec = review.Ensure({"spec"});
    spec.Set("user", a.user);
    json::Value groups = json::Value::MakeArray();
    for (const std::string& g : a.groups) groups.as_array().push_back(json::Value(g));
    spec.Set("groups", std::move(groups));
    json::Value& attrs = spec.Ensure({"resourceAttributes"});
    attrs.Set("verb", a.verb);
    attrs.Set("resource", "nodes");
    attrs.Set("subresource", a.subresource);
    attrs.Set("name", a.node);
    auto answer = create(review);
    if (!answer.ok()) return answer.status();
    const json::Value* allowed = answer->Get({"status", "allowed"});
    return allowed != nullptr && allowed->is_bool() && allowed->as_bool();
  };
}

}  // namespace berth::agent
