#pragma once
// File: apiserver/auth/authorizer.h
// Authorization as Kubernetes frames it: the attributes of one request (who, which verb, on
// what) and a decision. Authorizers are chained (system:masters, then RBAC); the first that
// allows or denies decides, and a request nobody allows is forbidden.

#include <string>

#include "apiserver/auth/user_info.h"

namespace berth::apiserver::auth {

struct Attributes {
  UserInfo user;
  std::string verb;  // get list watch create update patch delete deletecollection, or impersonate, bind, ...
  bool resource_request = false;
  // A resource request.
  std::string ns, api_group, api_version, resource, subresource, name;
  // A non-resource request (/healthz, /api, /metrics, ...).
  std::string path;
};

struct Decision {
  enum Kind { kNoOpinion, kAllow, kDeny };
  Kind kind = kNoOpinion;
  std::string reason;  // why: shown in 403 messages and access reviews
  bool allowed() const { return kind == kAllow; }
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual Decision Authorize(const Attributes& attributes) const = 0;
};

// Kubernetes' 403 message for a request that was not allowed, e.g.
//   pods "web" is forbidden: User "jane" cannot get resource "pods" in API group "" in the namespace "dev"
//   forbidden: User "jane" cannot get path "/metrics"
// `reason` (the authorizer's, possibly empty) is appended after ": ".
std::string ForbiddenMessage(const Attributes& attributes, const std::string& reason);

}  // namespace berth::apiserver::auth
