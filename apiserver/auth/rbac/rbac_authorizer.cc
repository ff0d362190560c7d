#include "apiserver/auth/rbac/rbac_authorizer.h"

#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::apiserver::auth::rbac {
namespace {

std::string DescribeSubject(const Subject& s, const std::string& binding_ns) {
  if (s.kind == "ServiceAccount") {
    return absl::StrCat(s.kind, " \"", s.ns.empty() ? binding_ns : s.ns, "/", s.name, "\"");
  }
  return absl::StrCat(s.kind, " \"", s.name, "\"");
}

std::string NotFound(const std::string& kind, const std::string& name) {
  return absl::StrCat(kind == "Role" ? "role" : "clusterrole", ".rbac.authorization.k8s.io \"", name, "\" not found");
}

}  // namespace

RbacAuthorizer::Binding RbacAuthorizer::ParseBinding(const json::Value& object) {
  Binding b;
  b.name = object.GetString({"metadata", "name"});
  b.ns = object.GetString({"metadata", "namespace"});
  b.role_kind = object.GetString({"roleRef", "kind"});
  b.role_name = object.GetString({"roleRef", "name"});
  if (const json::Value* subjects = object.Find("subjects"); subjects && subjects->is_array()) {
    for (const json::Value& s : subjects->as_array()) {
      b.subjects.push_back({s.GetString({"kind"}), s.GetString({"name"}), s.GetString({"namespace"})});
    }
  }
  return b;
}

void RbacAuthorizer::Observe(const std::string& kind, const json::Value& object, bool removed) {
  const std::string name = object.GetString({"metadata", "name"});
  const std::string ns = object.GetString({"metadata", "namespace"});
  std::unique_lock lock(mu_);
  if (kind == "ClusterRole") {
    if (removed) {
      cluster_roles_.erase(name);
    } else {
      ClusterRole role;
      role.rules = ParsePolicyRules(object.Find("rules"));
      const json::Value* labels = object.Get({"metadata", "labels"});
      role.labels = labels ? *labels : json::Value::MakeObject();
      if (const json::Value* sels = object.Get({"aggregationRule", "clusterRoleSelectors"}); sels && sels->is_array()) {
        role.aggregated = true;
        for (const json::Value& sel : sels->as_array()) {
          auto parsed = selector::LabelSelector::FromObject(sel);
          if (parsed.ok()) role.aggregation.push_back(*std::move(parsed));
        }
      }
      cluster_roles_[name] = std::move(role);
    }
    RecomputeAggregation();
  } else if (kind == "Role") {
    if (removed) {
      roles_.erase(absl::StrCat(ns, "/", name));
    } else {
      roles_[absl::StrCat(ns, "/", name)] = ParsePolicyRules(object.Find("rules"));
    }
  } else if (kind == "ClusterRoleBinding") {
    if (auto it = cluster_role_bindings_.find(name); it != cluster_role_bindings_.end()) {
      Index("", it->second, false);
      cluster_role_bindings_.erase(it);
    }
    if (!removed) Index("", cluster_role_bindings_[name] = ParseBinding(object), true);
  } else if (kind == "RoleBinding") {
    auto& in_ns = role_bindings_[ns];
    if (auto it = in_ns.find(name); it != in_ns.end()) {
      Index(ns, it->second, false);
      in_ns.erase(it);
    }
    if (!removed) Index(ns, in_ns[name] = ParseBinding(object), true);
    if (in_ns.empty()) role_bindings_.erase(ns);
  }
}

std::vector<std::string> RbacAuthorizer::SubjectKeys(const Binding& b) {
  std::vector<std::string> keys;
  for (const Subject& s : b.subjects) {
    if (s.kind == "User") keys.push_back("u:" + s.name);
    if (s.kind == "Group") keys.push_back("g:" + s.name);
    if (s.kind == "ServiceAccount") {
      keys.push_back(absl::StrCat("u:system:serviceaccount:", s.ns.empty() ? b.ns : s.ns, ":", s.name));
    }
  }
  return keys;
}

void RbacAuthorizer::Index(const std::string& scope, const Binding& b, bool add) {
  auto& index = by_subject_[scope];
  for (const std::string& key : SubjectKeys(b)) {
    if (add) {
      index[key].insert(b.name);
      continue;
    }
    auto it = index.find(key);
    if (it == index.end()) continue;
    it->second.erase(b.name);
    if (it->second.empty()) index.erase(it);
  }
  if (index.empty()) by_subject_.erase(scope);
}

std::set<std::string> RbacAuthorizer::Candidates(const std::string& scope, const UserInfo& user) const {
  std::set<std::string> names;
  auto index = by_subject_.find(scope);
  if (index == by_subject_.end()) return names;
  auto add = [&](const std::string& key) {
    if (auto it = index->second.find(key); it != index->second.end()) names.insert(it->second.begin(), it->second.end());
  };
  add("u:" + user.name);
  for (const std::string& g : user.groups) add("g:" + g);
  return names;
}

void RbacAuthorizer::RecomputeAggregation() {
  effective_cluster_rules_.clear();
  // An aggregated role's rules are those of the roles it selects, whose own rules may be
  // aggregated in turn (upstream's controller converges to the same fixed point).
  std::function<const std::vector<PolicyRule>&(const std::string&, std::set<std::string>&)> resolve =
      [&](const std::string& name, std::set<std::string>& visiting) -> const std::vector<PolicyRule>& {
    if (auto it = effective_cluster_rules_.find(name); it != effective_cluster_rules_.end()) return it->second;
    const ClusterRole& role = cluster_roles_.at(name);
    if (!role.aggregated) return effective_cluster_rules_[name] = role.rules;
    visiting.insert(name);
    std::vector<PolicyRule> rules;
    for (const auto& [other, candidate] : cluster_roles_) {
      if (other == name || visiting.count(other)) continue;
      bool selected = false;
      for (const auto& sel : role.aggregation) selected = selected || (!sel.empty() && sel.Matches(candidate.labels));
      if (!selected) continue;
      const std::vector<PolicyRule>& add = resolve(other, visiting);
      rules.insert(rules.end(), add.begin(), add.end());
    }
    visiting.erase(name);
    return effective_cluster_rules_[name] = std::move(rules);
  };
  for (const auto& [name, role] : cluster_roles_) {
    std::set<std::string> visiting;
    resolve(name, visiting);
  }
}

std::vector<PolicyRule> RbacAuthorizer::ClusterRoleRulesAsWritten(const json::Value& object) const {
  const json::Value* sels = object.Get({"aggregationRule", "clusterRoleSelectors"});
  if (sels == nullptr || !sels->is_array()) return ParsePolicyRules(object.Find("rules"));
  const std::string name = object.GetString({"metadata", "name"});
  std::shared_lock lock(mu_);
  std::vector<PolicyRule> rules;
  for (const json::Value& sel : sels->as_array()) {
    auto parsed = selector::LabelSelector::FromObject(sel);
    if (!parsed.ok() || parsed->empty()) continue;
    for (const auto& [other, candidate] : cluster_roles_) {
      if (other == name || !parsed->Matches(candidate.labels)) continue;
      const auto& add = effective_cluster_rules_.at(other);
      rules.insert(rules.end(), add.begin(), add.end());
    }
  }
  return rules;
}

bool RbacAuthorizer::AppliesTo(const Subject& s, const UserInfo& user, const std::string& binding_ns) {
  if (s.kind == "User") return s.name == user.name;
  if (s.kind == "Group") return user.InGroup(s.name);
  if (s.kind == "ServiceAccount") {
    const std::string& ns = s.ns.empty() ? binding_ns : s.ns;
    return user.name == absl::StrCat("system:serviceaccount:", ns, ":", s.name);
  }
  return false;
}

const std::vector<PolicyRule>* RbacAuthorizer::FindRules(const std::string& kind, const std::string& name,
                                                        const std::string& ns) const {
  if (kind == "ClusterRole") {
    auto it = effective_cluster_rules_.find(name);
    return it == effective_cluster_rules_.end() ? nullptr : &it->second;
  }
  if (kind == "Role" && !ns.empty()) {
    auto it = roles_.find(absl::StrCat(ns, "/", name));
    return it == roles_.end() ? nullptr : &it->second;
  }
  return nullptr;
}

template <typename Visit>
void RbacAuthorizer::VisitRules(const UserInfo& user, const std::string& ns, std::vector<std::string>& errors,
                                Visit visit) const {
  auto applies = [&](const Binding& b, const Subject*& who) {
    for (const Subject& s : b.subjects) {
      if (AppliesTo(s, user, b.ns)) {
        who = &s;
        return true;
      }
    }
    return false;
  };
  for (const std::string& name : Candidates("", user)) {
    const Binding& b = cluster_role_bindings_.at(name);
    const Subject* who = nullptr;
    if (!applies(b, who)) continue;
    const auto* rules = b.role_kind == "ClusterRole" ? FindRules("ClusterRole", b.role_name, "") : nullptr;
    if (rules == nullptr) {
      errors.push_back(NotFound(b.role_kind, b.role_name));
      continue;
    }
    auto describe = [&] {
      return absl::StrCat("ClusterRoleBinding \"", b.name, "\" of ClusterRole \"", b.role_name, "\" to ",
                          DescribeSubject(*who, ""));
    };
    if (visit(*rules, describe)) return;
  }
  if (ns.empty()) return;
  auto in_ns = role_bindings_.find(ns);
  if (in_ns == role_bindings_.end()) return;
  for (const std::string& name : Candidates(ns, user)) {
    const Binding& b = in_ns->second.at(name);
    const Subject* who = nullptr;
    if (!applies(b, who)) continue;
    const auto* rules = FindRules(b.role_kind, b.role_name, ns);
    if (rules == nullptr) {
      errors.push_back(NotFound(b.role_kind, b.role_name));
      continue;
    }
    auto describe = [&] {
      return absl::StrCat("RoleBinding \"", b.name, "/", b.ns, "\" of ", b.role_kind, " \"", b.role_name, "\" to ",
                          DescribeSubject(*who, b.ns));
    };
    if (visit(*rules, describe)) return;
  }
}

Decision RbacAuthorizer::Authorize(const Attributes& a) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> errors;
  Decision d;
  VisitRules(a.user, a.resource_request ? a.ns : "", errors, [&](const std::vector<PolicyRule>& rules, auto describe) {
    for (const PolicyRule& r : rules) {
      if (RuleAllows(r, a)) {
        d.kind = Decision::kAllow;
        d.reason = absl::StrCat("RBAC: allowed by ", describe());
        return true;
      }
    }
    return false;
  });
  if (!d.allowed() && !errors.empty()) {
    d.reason = errors.size() == 1 ? absl::StrCat("RBAC: ", errors[0])
                                  : absl::StrCat("RBAC: [", absl::StrJoin(errors, ", "), "]");
  }
  return d;
}

RulesForUser RbacAuthorizer::RulesFor(const UserInfo& user, const std::string& ns) const {
  std::shared_lock lock(mu_);
  RulesForUser out;
  VisitRules(user, ns, out.errors, [&](const std::vector<PolicyRule>& rules, auto) {
    out.rules.insert(out.rules.end(), rules.begin(), rules.end());
    return false;
  });
  return out;
}

bool RbacAuthorizer::RoleRules(const std::string& kind, const std::string& name, const std::string& ns,
                               std::vector<PolicyRule>& rules) const {
  std::shared_lock lock(mu_);
  const auto* found = FindRules(kind, name, ns);
  if (found == nullptr) return false;
  rules = *found;
  return true;
}

}  // namespace berth::apiserver::auth::rbac
