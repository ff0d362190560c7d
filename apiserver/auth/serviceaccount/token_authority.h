#pragma once
// File: apiserver/auth/serviceaccount/token_authority.h
// Kubernetes' bound ServiceAccount tokens (pkg/serviceaccount/claims.go): RS256 JWTs whose
// claims name the issuer, the audiences, the ServiceAccount (name and uid) and, when bound, the
// Pod or Secret the token lives as long as (and the Pod's Node). Issuing makes the claims; a
// token authenticates while its signature, issuer, audience and times hold and the
// ServiceAccount and the bound object still exist with the same uids — deleting the pod ends
// its tokens. The store is read through ObjectLookup, so tests can fake it.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "apiserver/auth/user_info.h"
#include "core/jwt/jwt.h"
#include "core/time/clock.h"

namespace berth::apiserver::auth::serviceaccount {

inline constexpr char kDefaultIssuer[] = "https://kubernetes.default.svc.cluster.local";
inline constexpr char kServiceAccountUserPrefix[] = "system:serviceaccount:";
inline constexpr char kServiceAccountsGroup[] = "system:serviceaccounts";

// What the store says of an object a token names.
struct StoredObject {
  std::string uid;
  std::optional<absl::Time> deletion;  // metadata.deletionTimestamp
  std::string node_name;               // pods: spec.nodeName
};

class ObjectLookup {
 public:
  virtual ~ObjectLookup() = default;
  // kind: "ServiceAccount", "Pod", "Secret", "Node" (ns empty). nullopt when absent.
  virtual std::optional<StoredObject> Find(const std::string& kind, const std::string& ns,
                                           const std::string& name) const = 0;
};

struct BoundObject {
  std::string kind;  // Pod or Secret
  std::string name, uid;
};

struct TokenSpec {
  std::string ns, service_account, service_account_uid;
  std::vector<std::string> audiences;  // empty: the API audiences
  absl::Duration expiration = absl::Hours(1);
  std::optional<BoundObject> bound;
  std::string node_name, node_uid;  // a pod's node, when bound to a scheduled pod
};

struct IssuedToken {
  std::string token;
  absl::Time expires;
};

struct Authenticated {
  UserInfo user;
  std::vector<std::string> audiences;  // those of the token's that were asked for
};

struct TokenAuthorityOptions {
  std::string issuer = kDefaultIssuer;
  std::vector<std::string> api_audiences;  // empty: {issuer}
  // Clocks of the issuer and the holder may differ by this much (exp, nbf, iat).
  absl::Duration leeway = absl::Seconds(60);
};

class TokenAuthority {
 public:
  TokenAuthority(jwt::Rs256Signer signer, std::vector<jwt::Rs256Verifier> verifiers, TokenAuthorityOptions options,
                 const Clock& clock, std::shared_ptr<const ObjectLookup> lookup);

  absl::StatusOr<IssuedToken> Issue(const TokenSpec& spec) const;

  // Unauthenticated, with upstream's reason, when `token` is not one of ours that is valid now
  // for one of `audiences` (empty: the API audiences).
  absl::StatusOr<Authenticated> Authenticate(std::string_view token, const std::vector<std::string>& audiences) const;

  const std::vector<std::string>& api_audiences() const { return options_.api_audiences; }
  const std::string& issuer() const { return options_.issuer; }

 private:
  absl::Status CheckStillBound(const std::string& kind, const std::string& ns, const std::string& name,
                               const std::string& uid) const;
  jwt::Rs256Signer signer_;
  std::vector<jwt::Rs256Verifier> verifiers_;
  TokenAuthorityOptions options_;
  const Clock& clock_;
  std::shared_ptr<const ObjectLookup> lookup_;
};

}  // namespace berth::apiserver::auth::serviceaccount
