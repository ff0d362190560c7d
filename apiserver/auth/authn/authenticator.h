#pragma once
// File: apiserver/auth/authn/authenticator.h
// Who sent a request, decided from its headers and TLS session alone (before any body is read):
// a client certificate the server verified against its client CA (CN the user, each O a group),
// else an `Authorization: Bearer` token (the scheme is case-insensitive: the Python client sends
// "bearer") from the static token file, a bootstrap token (a node joining), or a ServiceAccount
// JWT the token authority issued. Presented credentials that are not valid fail the
// request with 401 even where anonymous access would do; without credentials the request is
// system:anonymous in system:unauthenticated, and `AnonymousAllowed` says where that may go.
// Authenticated users are added to system:authenticated.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "apiserver/auth/authn/bootstrap_token.h"
#include "apiserver/auth/authn/token_file.h"
#include "apiserver/auth/serviceaccount/token_authority.h"
#include "apiserver/auth/user_info.h"
#include "core/http/http.h"

namespace berth::apiserver::auth::authn {

class Authenticator {
 public:
  // Any may be null: no static tokens, no ServiceAccount tokens, no bootstrap tokens.
  Authenticator(std::shared_ptr<const TokenFile> tokens,
                std::shared_ptr<const serviceaccount::TokenAuthority> service_account_tokens = nullptr,
                std::shared_ptr<const BootstrapTokens> bootstrap_tokens = nullptr)
      : tokens_(std::move(tokens)),
        service_account_tokens_(std::move(service_account_tokens)),
        bootstrap_tokens_(std::move(bootstrap_tokens)) {}

  // Unauthenticated (401) for credentials that do not authenticate.
  absl::StatusOr<UserInfo> Authenticate(const http::Request& request) const;

  // A bearer token alone (TokenReview): a static token is good for the API audiences, a
  // ServiceAccount token for those it names. Unauthenticated with the reason otherwise.
  absl::StatusOr<serviceaccount::Authenticated> AuthenticateToken(std::string_view token,
                                                                  const std::vector<std::string>& audiences) const;

  // Kubernetes 1.32's anonymous configuration as CIS asks for it: only the health and version
  // endpoints.
  static bool AnonymousAllowed(const http::Request& request);

 private:
  std::shared_ptr<const TokenFile> tokens_;
  std::shared_ptr<const serviceaccount::TokenAuthority> service_account_tokens_;
  std::shared_ptr<const BootstrapTokens> bootstrap_tokens_;
};

}  // namespace berth::apiserver::auth::authn
