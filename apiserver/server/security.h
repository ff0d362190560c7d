#pragma once
// File: apiserver/server/security.h
// Authentication and authorization for every request, as kube-apiserver's filter chain runs
// them before any handler: who sent it (client certificate, bearer token, else anonymous), then
// whether that user may do it — system:masters always, then the authorizers named by
// --authorization-mode in order (Node, RBAC; the first to allow decides, the reasons of those
// with no opinion end the 403), then, for a node, NodeRestriction. With AlwaysAllow the user
// is still authenticated, and everything is allowed.
//
// RBAC mode reconciles Kubernetes' bootstrap roles and bindings at start and follows every
// Role, ClusterRole and binding through the registry's commit observer; Node mode follows
// pods and claims the same way (auth/node/node_graph.h).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "apiserver/auth/authn/authenticator.h"
#include "apiserver/auth/authorizer.h"
#include "apiserver/auth/node/node_authorizer.h"
#include "apiserver/auth/rbac/rbac_authorizer.h"
#include "apiserver/endpoints/exchange.h"
#include "apiserver/registry/registry.h"
#include "apiserver/server/node_restriction.h"
#include "core/time/clock.h"

namespace berth::apiserver::server {

struct SecurityOptions {
  std::string authorization_mode = "AlwaysAllow";  // AlwaysAllow, or a list of Node and RBAC: "Node,RBAC"
  std::string token_auth_file;                     // Kubernetes' static token CSV
  // ServiceAccount tokens (kube-apiserver's flags of the same names). No signing key: no
  // TokenRequest, and JWTs do not authenticate.
  std::string service_account_signing_key_file;
  std::vector<std::string> service_account_key_files;  // more keys tokens may be verified with
  std::string service_account_issuer = auth::serviceaccount::kDefaultIssuer;
  std::vector<std::string> api_audiences;              // empty: {issuer}
  absl::Duration service_account_max_token_expiration = absl::Hours(48);
};

class Security {
 public:
  static absl::StatusOr<std::unique_ptr<Security>> Start(const SecurityOptions& options, registry::Registry& registry,
                                                        const Clock& clock = RealClock::Get());

  // The two filters, in this order.
  absl::Status Authenticate(endpoints::RequestContext& ctx) const;
  absl::Status Authorize(endpoints::RequestContext& ctx) const;

  // The chain's decision for any attributes (access reviews ask it for other users too).
  auth::Decision Decide(const auth::Attributes& attributes) const;
  // The rules that apply to `user` in `ns` (SelfSubjectRulesReview); `incomplete` when the
  // authorizer cannot list them all (AlwaysAllow).
  auth::rbac::RulesForUser RulesFor(const auth::UserInfo& user, const std::string& ns, bool& incomplete) const;
  bool rbac() const { return rbac_ != nullptr; }
  const auth::authn::Authenticator& authenticator() const { return *authenticator_; }
  // Null when the server has no ServiceAccount signing key.
  const auth::serviceaccount::TokenAuthority* service_account_tokens() const { return service_account_tokens_.get(); }
  absl::Duration max_token_expiration() const { return max_token_expiration_; }
  bool enforcing() const { return !chain_.empty(); }

  static auth::Attributes AttributesOf(const endpoints::RequestContext& ctx);

 private:
  absl::Status Impersonate(endpoints::RequestContext& ctx) const;
  absl::Status StartNodeAuthorizer(registry::Registry& registry);
  std::unique_ptr<auth::authn::Authenticator> authenticator_;
  std::shared_ptr<const auth::serviceaccount::TokenAuthority> service_account_tokens_;
  absl::Duration max_token_expiration_ = absl::Hours(48);
  std::vector<std::shared_ptr<const auth::Authorizer>> chain_;  // empty: AlwaysAllow
  std::shared_ptr<auth::rbac::RbacAuthorizer> rbac_;            // when RBAC is in the chain
  std::shared_ptr<const NodeRestriction> node_restriction_;      // when Node is in the chain
};

}  // namespace berth::apiserver::server
