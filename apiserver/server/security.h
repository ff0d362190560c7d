#pragma once
// File: apiserver/server/security.h
// Authentication and authorization for every request, as kube-apiserver's filter chain runs
// them before any handler: who sent it (client certificate, bearer token, else anonymous), then
// whether that user may do it — system:masters always, else RBAC evaluated from memory. With
// --authorization-mode=AlwaysAllow (the default until every client carries credentials) the
// user is still authenticated, and everything is allowed.
//
// RBAC mode reconciles Kubernetes' bootstrap roles and bindings at start and follows every
// Role, ClusterRole and binding through the registry's commit observer.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "apiserver/auth/authn/authenticator.h"
#include "apiserver/auth/authorizer.h"
#include "apiserver/auth/rbac/rbac_authorizer.h"
#include "apiserver/endpoints/exchange.h"
#include "apiserver/registry/registry.h"

namespace berth::apiserver::server {

struct SecurityOptions {
  std::string authorization_mode = "AlwaysAllow";  // AlwaysAllow | RBAC
  std::string token_auth_file;                     // Kubernetes' static token CSV
};

class Security {
 public:
  static absl::StatusOr<std::unique_ptr<Security>> Start(const SecurityOptions& options, registry::Registry& registry);

  // The two filters, in this order.
  absl::Status Authenticate(endpoints::RequestContext& ctx) const;
  absl::Status Authorize(endpoints::RequestContext& ctx) const;

  // The chain's decision for any attributes (access reviews ask it for other users too).
  auth::Decision Decide(const auth::Attributes& attributes) const;
  // The rules that apply to `user` in `ns` (SelfSubjectRulesReview); `incomplete` when the
  // authorizer cannot list them all (AlwaysAllow).
  auth::rbac::RulesForUser RulesFor(const auth::UserInfo& user, const std::string& ns, bool& incomplete) const;
  bool rbac() const { return rbac_ != nullptr; }

  static auth::Attributes AttributesOf(const endpoints::RequestContext& ctx);

 private:
  absl::Status Impersonate(endpoints::RequestContext& ctx) const;
  std::unique_ptr<auth::authn::Authenticator> authenticator_;
  std::shared_ptr<auth::rbac::RbacAuthorizer> rbac_;
};

}  // namespace berth::apiserver::server
