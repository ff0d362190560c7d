#pragma once
// File: apiserver/server/rbac_escalation.h
// RBAC's guard against privilege escalation (kubernetes pkg/registry/rbac/validation): a user
// may write a Role or ClusterRole only with rules they already hold where it applies, unless
// they may `escalate` it; and may bind a role only when they hold its rules there, unless they
// may `bind` it. A refusal is 403 with upstream's message listing what is not held:
//   roles.rbac.authorization.k8s.io "x" is forbidden: user "jane" (groups=["dev" "system:authenticated"])
//   is attempting to grant RBAC permissions not currently held:
//   {APIGroups:[""], Resources:["secrets"], Verbs:["get"]}
// The server's own writes (no requester) are not checked.

#include <memory>

#include "apiserver/registry/admission/admission_plugin.h"
#include "apiserver/server/security.h"

namespace berth::apiserver::server {

class RbacEscalation final : public registry::AdmissionPlugin {
 public:
  RbacEscalation(const Security& security, std::shared_ptr<const auth::rbac::RbacAuthorizer> rbac)
      : security_(security), rbac_(std::move(rbac)) {}
  absl::Status Validate(const registry::AdmissionAttributes& attrs, const json::Value& object) const override;

 private:
  const Security& security_;
  std::shared_ptr<const auth::rbac::RbacAuthorizer> rbac_;
};

}  // namespace berth::apiserver::server
