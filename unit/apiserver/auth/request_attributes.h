#pragma once
// File: unit/apiserver/auth/request_attributes.h
// The authorizers' tests describe requests the same way: who, which verb, on what.

#include <string>

#include "apiserver/auth/authorizer.h"

namespace berth::apiserver::auth::test {

inline Attributes Res(const UserInfo& u, const std::string& verb, const std::string& ns, const std::string& group,
                      const std::string& resource, const std::string& name = "", const std::string& sub = "") {
  Attributes a = ResourceAttributes(u, verb, group, resource, ns, name);
  a.subresource = sub;
  return a;
}

}  // namespace berth::apiserver::auth::test
