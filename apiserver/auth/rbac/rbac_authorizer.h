#pragma once
// File: apiserver/auth/rbac/rbac_authorizer.h
// Kubernetes RBAC evaluated from memory: Roles, ClusterRoles, RoleBindings and
// ClusterRoleBindings are followed through the registry's commit observer (and loaded once at
// start), so a decision never reads the store. Semantics are upstream's
// (plugin/pkg/auth/authorizer/rbac): rules only add; a ClusterRoleBinding grants its
// ClusterRole everywhere, a RoleBinding grants its Role or ClusterRole in its own namespace;
// subjects are Users, Groups and ServiceAccounts; a ClusterRole with an aggregationRule holds
// the rules of every ClusterRole its selectors match. A binding to a role that does not exist
// grants nothing and is named in the reason of a denial, as upstream does.

#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "apiserver/auth/authorizer.h"
#include "apiserver/auth/rbac/policy_rule.h"
#include "core/json/value.h"
#include "core/selector/label_selector.h"

namespace berth::apiserver::auth::rbac {

struct Subject {
  std::string kind, name, ns;
};

// What SelfSubjectRulesReview reports: the rules that apply to a user in a namespace.
struct RulesForUser {
  std::vector<PolicyRule> rules;
  std::vector<std::string> errors;  // bindings whose roles are missing
};

class RbacAuthorizer final : public Authorizer {
 public:
  // `kind` is Role, ClusterRole, RoleBinding or ClusterRoleBinding; other kinds are ignored.
  void Observe(const std::string& kind, const json::Value& object, bool removed);

  Decision Authorize(const Attributes& attributes) const override;
  RulesForUser RulesFor(const UserInfo& user, const std::string& ns) const;

  // The rules a role reference grants in `ns` (RoleBindings resolve Roles there); false with
  // nothing when the role does not exist. For escalation checks on bindings.
  bool RoleRules(const std::string& kind, const std::string& name, const std::string& ns,
                 std::vector<PolicyRule>& rules) const;

  // The effective rules of a ClusterRole written as `object` would have (aggregation applied):
  // what a write of it grants.
  std::vector<PolicyRule> ClusterRoleRulesAsWritten(const json::Value& object) const;

 private:
  struct ClusterRole {
    std::vector<PolicyRule> rules;
    json::Value labels;
    std::vector<selector::LabelSelector> aggregation;  // empty: not aggregated
    bool aggregated = false;
  };
  struct Binding {
    std::string name, ns;  // ns empty for a ClusterRoleBinding
    std::string role_kind, role_name;
    std::vector<Subject> subjects;
  };

  static bool AppliesTo(const Subject& s, const UserInfo& user, const std::string& binding_ns);
  static Binding ParseBinding(const json::Value& object);
  // Visits each binding that applies to `user` for `ns` with the rules it grants; stops when
  // `visit` returns true. Missing roles go to `errors`.
  template <typename Visit>
  void VisitRules(const UserInfo& user, const std::string& ns, std::vector<std::string>& errors, Visit visit) const;
  const std::vector<PolicyRule>* FindRules(const std::string& kind, const std::string& name, const std::string& ns) const;
  void RecomputeAggregation();  // with mu_ held exclusively

  mutable std::shared_mutex mu_;
  std::map<std::string, ClusterRole> cluster_roles_;
  std::map<std::string, std::vector<PolicyRule>> effective_cluster_rules_;  // aggregation applied
  std::map<std::string, std::vector<PolicyRule>> roles_;                    // by "ns/name"
  std::map<std::string, Binding> cluster_role_bindings_;
  std::map<std::string, std::map<std::string, Binding>> role_bindings_;  // ns -> name -> binding
  // Which bindings name a subject, so that a decision visits only those that can apply:
  // scope ("" for ClusterRoleBindings, else the namespace) -> "u:<user>" / "g:<group>" ->
  // binding names. ServiceAccount subjects are indexed by their user name.
  std::map<std::string, std::map<std::string, std::set<std::string>>> by_subject_;
  static std::vector<std::string> SubjectKeys(const Binding& b);
  void Index(const std::string& scope, const Binding& b, bool add);
  std::set<std::string> Candidates(const std::string& scope, const UserInfo& user) const;
};

}  // namespace berth::apiserver::auth::rbac
