#pragma once
// File: apiserver/auth/authorizer.h
// Authorization as Kubernetes frames it: the attributes of one request (who, which verb, on
// what) and a decision. Authorizers are chained (system:masters, then RBAC); the first that
// allows or denies decides, and a request nobody allows is forbidden.

#include <string>
#include <utility>

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

// A resource request about a kind (one object when `name` is set): how the server asks the
// authorizers on a requester's behalf (impersonation, signer verbs).
inline Attributes ResourceAttributes(const UserInfo& user, std::string verb, std::string group, std::string resource,
                                     std::string ns = "", std::string name = "") {
  Attributes a;
  a.user = user;
  a.verb = std::move(verb);
  a.resource_request = true;
  a.api_group = std::move(group);
  a.resource = std::move(resource);
  a.ns = std::move(ns);
  a.name = std::move(name);
  return a;
}

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
