#pragma once
// File: core/api/user_info.h
// Who a request comes from, as Kubernetes' user.Info describes it: the apiserver's
// authenticators produce it; authorizers, admission and audit read it.

#include <map>
#include <string>
#include <vector>

namespace berth::api {

inline constexpr char kAnonymousUser[] = "system:anonymous";
inline constexpr char kUnauthenticatedGroup[] = "system:unauthenticated";
inline constexpr char kAuthenticatedGroup[] = "system:authenticated";
inline constexpr char kMastersGroup[] = "system:masters";

struct UserInfo {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;

  bool InGroup(const std::string& group) const {
    for (const std::string& g : groups) {
      if (g == group) return true;
    }
    return false;
  }
};

}  // namespace berth::api
