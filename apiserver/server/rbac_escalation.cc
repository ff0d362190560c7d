#include "apiserver/server/rbac_escalation.h"

#include "absl/strings/str_join.h"
#include "apiserver/registry/resource_type.h"
#include "core/api/errors.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

constexpr char kRbacGroup[] = "rbac.authorization.k8s.io";

// Go's %q of a []string: ["a" "b"].
std::string QuotedList(const std::vector<std::string>& list) {
  std::vector<std::string> q;
  for (const std::string& s : list) q.push_back(StrCat("\"", s, "\""));
  return StrCat("[", absl::StrJoin(q, " "), "]");
}

}  // namespace

absl::Status RbacEscalation::Validate(const registry::AdmissionAttributes& attrs, const json::Value& object) const {
  const registry::ResourceType& type = attrs.type;
  if (attrs.user == nullptr || type.group != kRbacGroup) return absl::OkStatus();
  const auth::UserInfo& user = *attrs.user;
  const std::string name = object.GetString({"metadata", "name"});
  const std::string ns = object.GetString({"metadata", "namespace"});
  const bool is_role = type.kind == "Role" || type.kind == "ClusterRole";
  const bool is_binding = type.kind == "RoleBinding" || type.kind == "ClusterRoleBinding";
  if (!is_role && !is_binding) return absl::OkStatus();

  // The verb that lifts the check: escalate on the role itself, bind on the role referred to.
  auth::Attributes lift;
  lift.user = user;
  lift.resource_request = true;
  lift.api_group = kRbacGroup;
  lift.ns = ns;
  std::vector<auth::rbac::PolicyRule> wanted;
  std::string why_missing;
  if (is_role) {
    lift.verb = "escalate";
    lift.resource = type.plural;
    lift.name = name;
    if (security_.Decide(lift).allowed()) return absl::OkStatus();
    wanted = type.kind == "Role" ? auth::rbac::ParsePolicyRules(object.Find("rules")) : rbac_->ClusterRoleRulesAsWritten(object);
  } else {
    const std::string ref_kind = object.GetString({"roleRef", "kind"});
    const std::string ref_name = object.GetString({"roleRef", "name"});
    lift.verb = "bind";
    lift.resource = ref_kind == "Role" ? "roles" : "clusterroles";
    lift.name = ref_name;
    if (security_.Decide(lift).allowed()) return absl::OkStatus();
    if (!rbac_->RoleRules(ref_kind, ref_name, ns, wanted)) {
      return api::Forbidden(type.Target(name), StrCat(ref_kind == "Role" ? "role" : "clusterrole", ".rbac.authorization.k8s.io \"",
                                                      ref_name, "\" not found"));
    }
  }
  bool incomplete = false;
  auth::rbac::RulesForUser held = security_.RulesFor(user, ns, incomplete);
  std::vector<auth::rbac::PolicyRule> missing = auth::rbac::Uncovered(held.rules, wanted);
  if (missing.empty()) return absl::OkStatus();
  std::vector<std::string> lines;
  for (const auto& r : missing) lines.push_back(auth::rbac::DescribeRule(r));
  std::string message = StrCat("user \"", user.name, "\" (groups=", QuotedList(user.groups),
                               ") is attempting to grant RBAC permissions not currently held:\n", absl::StrJoin(lines, "\n"));
  if (!held.errors.empty()) StrAppend(&message, "; resolution errors: [", absl::StrJoin(held.errors, " "), "]");
  return api::Forbidden(type.Target(name), message);
}

}  // namespace berth::apiserver::server
