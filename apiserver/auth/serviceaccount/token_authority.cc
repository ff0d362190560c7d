#include "apiserver/auth/serviceaccount/token_authority.h"

#include <openssl/rand.h>

#include <algorithm>

#include "core/json/value.h"
#include "core/strings/strings.h"

namespace berth::apiserver::auth::serviceaccount {
namespace {

constexpr char kPrivateClaims[] = "kubernetes.io";

// A random (v4) UUID for the jti claim: the credential id audit and TokenReview report.
std::string NewJti() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

json::Value Ref(const std::string& name, const std::string& uid) {
  json::Value v = json::Value::MakeObject();
  v.Set("name", name);
  v.Set("uid", uid);
  return v;
}

std::vector<std::string> Strings(const json::Value* v) {
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (v->is_string()) out.push_back(v->as_string());
  if (v->is_array()) {
    for (const json::Value& s : v->as_array()) {
      if (s.is_string()) out.push_back(s.as_string());
    }
  }
  return out;
}

// Go's %q of a string list, as upstream's audience error prints it.
std::string QuoteList(const std::vector<std::string>& list) {
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? " \"" : "\"") + list[i] + "\"";
  return out + "]";
}

std::optional<int64_t> NumericDate(const json::Value& claims, const char* name) {
  const json::Value* v = claims.Find(name);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->is_int() ? v->as_int() : static_cast<int64_t>(v->as_double());
}

}  // namespace

TokenAuthority::TokenAuthority(jwt::Rs256Signer signer, std::vector<jwt::Rs256Verifier> verifiers,
                               TokenAuthorityOptions options, const Clock& clock, std::shared_ptr<const ObjectLookup> lookup)
    : signer_(std::move(signer)),
      verifiers_(std::move(verifiers)),
      options_(std::move(options)),
      clock_(clock),
      lookup_(std::move(lookup)) {
  if (options_.api_audiences.empty()) options_.api_audiences = {options_.issuer};
}

absl::StatusOr<IssuedToken> TokenAuthority::Issue(const TokenSpec& spec) const {
  absl::Time now = clock_.Now();
  int64_t iat = absl::ToUnixSeconds(now);
  int64_t exp = iat + absl::ToInt64Seconds(spec.expiration);
  json::Value claims = json::Value::MakeObject();
  json::Value aud = json::Value::MakeArray();
  for (const std::string& a : spec.audiences.empty() ? options_.api_audiences : spec.audiences) {
    aud.as_array().push_back(json::Value(a));
  }
  claims.Set("aud", std::move(aud));
  claims.Set("exp", exp);
  claims.Set("iat", iat);
  claims.Set("iss", options_.issuer);
  claims.Set("jti", NewJti());
  json::Value k8s = json::Value::MakeObject();
  k8s.Set("namespace", spec.ns);
  if (spec.bound && spec.bound->kind == "Pod") {
    if (!spec.node_name.empty()) k8s.Set("node", Ref(spec.node_name, spec.node_uid));
    k8s.Set("pod", Ref(spec.bound->name, spec.bound->uid));
  } else if (spec.bound && spec.bound->kind == "Secret") {
    k8s.Set("secret", Ref(spec.bound->name, spec.bound->uid));
  }
  k8s.Set("serviceaccount", Ref(spec.service_account, spec.service_account_uid));
  claims.Set(kPrivateClaims, std::move(k8s));
  claims.Set("nbf", iat);
  claims.Set("sub", StrCat(kServiceAccountUserPrefix, spec.ns, ":", spec.service_account));
  auto token = signer_.Sign(claims);
  if (!token.ok()) return token.status();
  return IssuedToken{*std::move(token), absl::FromUnixSeconds(exp)};
}

absl::Status TokenAuthority::CheckStillBound(const std::string& kind, const std::string& ns, const std::string& name,
                                             const std::string& uid) const {
  std::string lower = kind == "ServiceAccount" ? "service account" : kind == "Pod" ? "pod" : "secret";
  std::optional<StoredObject> found = lookup_ ? lookup_->Find(kind, ns, name) : std::nullopt;
  if (!found) return absl::UnauthenticatedError(StrCat(lower, " ", ns, "/", name, " has been deleted"));
  if (!uid.empty() && found->uid != uid) {
    return absl::UnauthenticatedError(StrCat(lower, " UID (", found->uid, ") does not match claim (", uid, ")"));
  }
  // A pod in its grace period still holds valid tokens; once past it, they end.
  if (kind != "ServiceAccount" && found->deletion && *found->deletion + options_.leeway < clock_.Now()) {
    return absl::UnauthenticatedError("token has been invalidated");
  }
  return absl::OkStatus();
}

absl::StatusOr<Authenticated> TokenAuthority::Authenticate(std::string_view token,
                                                           const std::vector<std::string>& audiences) const {
  absl::StatusOr<json::Value> claims = absl::UnauthenticatedError("invalid bearer token");
  for (const jwt::Rs256Verifier& v : verifiers_) {
    claims = v.Verify(token);
    if (claims.ok() || claims.status().message() != "signed by an unknown key") break;
  }
  if (!claims.ok()) return claims.status();
  const json::Value* iss = claims->Find("iss");
  if (iss == nullptr || !iss->is_string() || iss->as_string() != options_.issuer) {
    return absl::UnauthenticatedError("invalid bearer token: unknown issuer");
  }
  const std::vector<std::string>& want = audiences.empty() ? options_.api_audiences : audiences;
  std::vector<std::string> have = Strings(claims->Find("aud"));
  Authenticated out;
  for (const std::string& a : want) {
    if (std::find(have.begin(), have.end(), a) != have.end()) out.audiences.push_back(a);
  }
  if (out.audiences.empty()) {
    return absl::UnauthenticatedError(
        StrCat("token audiences ", QuoteList(have), " is invalid for the target audiences ", QuoteList(want)));
  }
  int64_t now = absl::ToUnixSeconds(clock_.Now());
  int64_t leeway = absl::ToInt64Seconds(options_.leeway);
  std::optional<int64_t> exp = NumericDate(*claims, "exp");
  if (!exp) return absl::UnauthenticatedError("service account token has no expiration");
  if (now > *exp + leeway) return absl::UnauthenticatedError("service account token has expired");
  if (std::optional<int64_t> nbf = NumericDate(*claims, "nbf"); nbf && now + leeway < *nbf) {
    return absl::UnauthenticatedError("service account token is not valid yet");
  }
  if (std::optional<int64_t> iat = NumericDate(*claims, "iat"); iat && now + leeway < *iat) {
    return absl::UnauthenticatedError("service account token is issued in the future");
  }
  const json::Value* k8s = claims->Find(kPrivateClaims);
  if (k8s == nullptr || !k8s->is_object()) return absl::UnauthenticatedError("service account token claims are missing");
  std::string ns = k8s->GetString({"namespace"});
  std::string sa = k8s->GetString({"serviceaccount", "name"});
  std::string sa_uid = k8s->GetString({"serviceaccount", "uid"});
  if (ns.empty() || sa.empty()) return absl::UnauthenticatedError("service account token claims are missing");
  if (claims->GetString({"sub"}) != StrCat(kServiceAccountUserPrefix, ns, ":", sa)) {
    return absl::UnauthenticatedError("service account token subject does not match its claims");
  }
  if (absl::Status s = CheckStillBound("ServiceAccount", ns, sa, sa_uid); !s.ok()) return s;
  UserInfo& user = out.user;
  user.name = StrCat(kServiceAccountUserPrefix, ns, ":", sa);
  user.uid = sa_uid;
  user.groups = {kServiceAccountsGroup, StrCat(kServiceAccountsGroup, ":", ns)};
  if (const json::Value* pod = k8s->Find("pod"); pod && pod->is_object()) {
    std::string name = pod->GetString({"name"}), uid = pod->GetString({"uid"});
    if (absl::Status s = CheckStillBound("Pod", ns, name, uid); !s.ok()) return s;
    user.extra["authentication.kubernetes.io/pod-name"] = {name};
    user.extra["authentication.kubernetes.io/pod-uid"] = {uid};
  } else if (const json::Value* secret = k8s->Find("secret"); secret && secret->is_object()) {
    if (absl::Status s = CheckStillBound("Secret", ns, secret->GetString({"name"}), secret->GetString({"uid"})); !s.ok()) {
      return s;
    }
  }
  if (const json::Value* node = k8s->Find("node"); node && node->is_object()) {
    user.extra["authentication.kubernetes.io/node-name"] = {node->GetString({"name"})};
    user.extra["authentication.kubernetes.io/node-uid"] = {node->GetString({"uid"})};
  }
  if (std::string jti = claims->GetString({"jti"}); !jti.empty()) {
    user.extra["authentication.kubernetes.io/credential-id"] = {StrCat("JTI=", jti)};
  }
  return out;
}

}  // namespace berth::apiserver::auth::serviceaccount
