#include "apiserver/auth/authn/bootstrap_token.h"

#include <openssl/crypto.h>

#include "absl/strings/escaping.h"
#include "core/strings/strings.h"

namespace berth::apiserver::auth::authn {
namespace {

bool LowerAlnum(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// A data value, decoded (Secrets keep data base64).
std::string Data(const json::Value& secret, const char* key) {
  std::string raw = secret.GetString({"data", key});
  std::string out;
  if (!absl::Base64Unescape(Sv(std::string_view(raw)), &out)) return "";
  return out;
}

// system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]
bool ValidExtraGroup(std::string_view g) {
  constexpr std::string_view kPrefix = "system:bootstrappers:";
  if (g.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view rest = g.substr(kPrefix.size());
  if (rest.empty() || rest.size() > 256) return false;
  for (char c : rest) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '-')) return false;
  }
  char last = rest.back();
  return (last >= 'a' && last <= 'z') || (last >= '0' && last <= '9');
}

}  // namespace

bool ParseBootstrapToken(std::string_view token, std::string* id, std::string* secret) {
  if (token.size() != 23 || token[6] != '.') return false;
  std::string_view i = token.substr(0, 6), s = token.substr(7);
  if (!LowerAlnum(i) || !LowerAlnum(s)) return false;
  if (id) *id = std::string(i);
  if (secret) *secret = std::string(s);
  return true;
}

bool BootstrapTokenExpired(const json::Value& secret, absl::Time now) {
  std::string at = Data(secret, "expiration");
  if (at.empty()) return false;
  // Unreadable: treated as expired, as upstream does.
  absl::Time when = ParseRfc3339(at, absl::InfinitePast());
  return when <= now;
}

std::optional<absl::StatusOr<UserInfo>> BootstrapTokens::Authenticate(std::string_view token) const {
  std::string id, secret_part;
  if (!ParseBootstrapToken(token, &id, &secret_part)) return std::nullopt;
  auto refused = [](const std::string& why) { return absl::UnauthenticatedError(StrCat("bootstrap token: ", why)); };
  std::optional<json::Value> secret = get_(StrCat(kBootstrapTokenSecretPrefix, id));
  if (!secret) return refused("no such token");
  if (!secret->GetString({"metadata", "deletionTimestamp"}).empty()) return refused("the token is being deleted");
  if (secret->GetString({"type"}) != kBootstrapTokenSecretType) return refused("the secret is not a bootstrap token");
  std::string stored = Data(*secret, "token-secret");
  if (stored.size() != secret_part.size() || CRYPTO_memcmp(stored.data(), secret_part.data(), stored.size()) != 0) {
    return refused("the token secret does not match");
  }
  if (Data(*secret, "token-id") != id) return refused("the token id does not match");
  if (BootstrapTokenExpired(*secret, clock_.Now())) return refused("the token has expired");
  if (Data(*secret, "usage-bootstrap-authentication") != "true") return refused("the token is not for authentication");
  UserInfo user;
  user.name = StrCat("system:bootstrap:", id);
  user.groups = {kBootstrappersGroup};
  const std::string extra = Data(*secret, "auth-extra-groups");
  for (std::string_view g : Split(extra, ',')) {
    std::string group(Strip(g));
    if (group.empty()) continue;
    if (!ValidExtraGroup(group)) return refused(StrCat("auth-extra-groups: invalid group \"", group, "\""));
    user.groups.push_back(group);
  }
  return user;
}

}  // namespace berth::apiserver::auth::authn
