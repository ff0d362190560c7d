#include "apiserver/auth/authn/authenticator.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "core/jwt/jwt.h"
#include "core/strings/strings.h"

namespace berth::apiserver::auth::authn {
namespace {

void AddAuthenticated(UserInfo& user) {
  if (!user.InGroup(kAuthenticatedGroup)) user.groups.push_back(kAuthenticatedGroup);
}

}  // namespace

absl::StatusOr<UserInfo> Authenticator::Authenticate(const http::Request& request) const {
  if (request.peer && !request.peer->common_name.empty()) {
    UserInfo user;
    user.name = request.peer->common_name;
    user.groups = request.peer->organizations;
    AddAuthenticated(user);
    return user;
  }
  std::string header = request.Header("authorization");
  if (!header.empty()) {
    std::string_view value = Strip(header);
    if (value.size() > 7 && absl::EqualsIgnoreCase(Sv(value.substr(0, 7)), "bearer ")) {
      std::string_view token = Strip(value.substr(7));
      if (tokens_) {
        if (auto user = tokens_->Lookup(token)) {
          AddAuthenticated(*user);
          return *user;
        }
      }
      if (bootstrap_tokens_) {
        if (auto found = bootstrap_tokens_->Authenticate(token); found && found->ok()) {
          AddAuthenticated(**found);
          return **std::move(found);
        }
      }
      if (service_account_tokens_ && jwt::LooksLikeJwt(token)) {
        auto found = service_account_tokens_->Authenticate(token, {});
        if (found.ok()) {
          AddAuthenticated(found->user);
          return std::move(found->user);
        }
      }
    }
    return absl::UnauthenticatedError("Unauthorized");
  }
  UserInfo anonymous;
  anonymous.name = kAnonymousUser;
  anonymous.groups = {kUnauthenticatedGroup};
  return anonymous;
}

absl::StatusOr<serviceaccount::Authenticated> Authenticator::AuthenticateToken(
    std::string_view token, const std::vector<std::string>& audiences) const {
  if (tokens_) {
    if (auto user = tokens_->Lookup(token)) {
      const std::vector<std::string> api = service_account_tokens_ ? service_account_tokens_->api_audiences()
                                                                   : std::vector<std::string>{};
      serviceaccount::Authenticated out;
      for (const std::string& a : audiences) {
        if (std::find(api.begin(), api.end(), a) != api.end()) out.audiences.push_back(a);
      }
      if (audiences.empty()) out.audiences = api;
      if (!audiences.empty() && out.audiences.empty()) {
        return absl::UnauthenticatedError("token audiences are invalid for the target audiences");
      }
      out.user = *std::move(user);
      AddAuthenticated(out.user);
      return out;
    }
  }
  if (bootstrap_tokens_) {
    if (auto found = bootstrap_tokens_->Authenticate(token)) {
      if (!found->ok()) return found->status();
      serviceaccount::Authenticated out;
      out.user = **std::move(found);
      AddAuthenticated(out.user);
      out.audiences = service_account_tokens_ ? service_account_tokens_->api_audiences() : std::vector<std::string>{};
      return out;
    }
  }
  if (service_account_tokens_ && jwt::LooksLikeJwt(token)) {
    auto found = service_account_tokens_->Authenticate(token, audiences);
    if (found.ok()) AddAuthenticated(found->user);
    return found;
  }
  return absl::UnauthenticatedError("invalid bearer token");
}

bool Authenticator::AnonymousAllowed(const http::Request& request) {
  const auto& s = request.segments;
  if (s.empty()) return false;
  if (s[0] == "livez" || s[0] == "readyz" || s[0] == "healthz") return true;
  return s[0] == "version" && s.size() == 1;
}

}  // namespace berth::apiserver::auth::authn
