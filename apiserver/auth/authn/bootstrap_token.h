#pragma once
// File: apiserver/auth/authn/bootstrap_token.h
// Kubernetes' bootstrap tokens (plugin/pkg/auth/authenticator/token/bootstrap): a bearer token
// `<id>.<secret>` ([a-z0-9]{6}.[a-z0-9]{16}) is valid while the Secret
// kube-system/bootstrap-token-<id> of type bootstrap.kubernetes.io/token holds that token-id and
// token-secret, says usage-bootstrap-authentication: "true", has not passed its expiration and is
// not being deleted. The user is system:bootstrap:<id> in system:bootstrappers and the
// auth-extra-groups the Secret lists (each system:bootstrappers:...).

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "apiserver/auth/user_info.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::apiserver::auth::authn {

inline constexpr char kBootstrapTokenSecretType[] = "bootstrap.kubernetes.io/token";
inline constexpr char kBootstrapTokenSecretPrefix[] = "bootstrap-token-";
inline constexpr char kBootstrappersGroup[] = "system:bootstrappers";

// True when `token` has the bootstrap token's shape; `id` and `secret` receive its parts.
bool ParseBootstrapToken(std::string_view token, std::string* id = nullptr, std::string* secret = nullptr);

class BootstrapTokens {
 public:
  // The stored Secret kube-system/<name>, nullopt when there is none.
  using SecretGetter = std::function<std::optional<json::Value>(const std::string& name)>;
  BootstrapTokens(SecretGetter get, const Clock& clock) : get_(std::move(get)), clock_(clock) {}

  // nullopt: not a bootstrap token (another authenticator may know it); else the user, or
  // Unauthenticated with the reason.
  std::optional<absl::StatusOr<UserInfo>> Authenticate(std::string_view token) const;

 private:
  SecretGetter get_;
  const Clock& clock_;
};

// Whether a bootstrap token Secret's `expiration` (RFC 3339) has passed at `now`.
bool BootstrapTokenExpired(const json::Value& secret, absl::Time now);

}  // namespace berth::apiserver::auth::authn
