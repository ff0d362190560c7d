#include "apiserver/auth/authn/authenticator.h"

#include "absl/strings/match.h"
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
    }
    return absl::UnauthenticatedError("Unauthorized");
  }
  UserInfo anonymous;
  anonymous.name = kAnonymousUser;
  anonymous.groups = {kUnauthenticatedGroup};
  return anonymous;
}

bool Authenticator::AnonymousAllowed(const http::Request& request) {
  const auto& s = request.segments;
  if (s.empty()) return false;
  if (s[0] == "livez" || s[0] == "readyz" || s[0] == "healthz") return true;
  return s[0] == "version" && s.size() == 1;
}

}  // namespace berth::apiserver::auth::authn
