#pragma once
// File: apiserver/server/service_account_tokens.h
// serviceaccounts/{name}/token (authentication.k8s.io/v1 TokenRequest, `kubectl create
// token`): validated as kube-apiserver does (pkg/registry/core/serviceaccount/storage/token.go),
// bound to a Pod or Secret whose uid must still match, capped at the server's maximum lifetime,
// and — for a node — only for a pod scheduled on that node (NodeRestriction's rule). Also the
// store seen from the token authority: ServiceAccounts, Pods, Secrets and Nodes by name.

#include <memory>

#include "apiserver/auth/serviceaccount/token_authority.h"
#include "apiserver/endpoints/exchange.h"
#include "apiserver/registry/registry.h"

namespace berth::apiserver::server {

std::shared_ptr<const auth::serviceaccount::ObjectLookup> RegistryObjectLookup(const registry::Registry& registry);

struct TokenRequestLimits {
  absl::Duration max_expiration = absl::Hours(48);  // longer requests are shortened to this
};

void ServeTokenRequest(const auth::serviceaccount::TokenAuthority& authority, const TokenRequestLimits& limits,
                       const registry::Registry& registry, const std::shared_ptr<endpoints::Exchange>& ex);

}  // namespace berth::apiserver::server
