// File: apiserver/registry/kinds/rbac/rbac_strategies.cc
// rbac.authorization.k8s.io/v1 Roles, ClusterRoles and their bindings: Kubernetes' defaulting
// (subjects' and roleRef's apiGroup) and validation (pkg/apis/rbac/validation), with its
// messages: rules need verbs, resource rules need groups and resources, non-resource URLs only
// in ClusterRoles and never mixed with resources; bindings refer to a role kind they may refer
// to, subjects are Users, Groups or ServiceAccounts, and roleRef never changes.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

constexpr char kRbacGroup[] = "rbac.authorization.k8s.io";

bool NonEmptyArray(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.Find(key);
  return v && v->is_array() && !v->as_array().empty();
}

std::vector<api::Cause> RuleCauses(const json::Value& object, bool namespaced) {
  std::vector<api::Cause> causes;
  const json::Value* rules = object.Find("rules");
  if (rules == nullptr || !rules->is_array()) return causes;
  for (size_t i = 0; i < rules->as_array().size(); ++i) {
    const json::Value& r = rules->as_array()[i];
    const std::string at = StrCat("rules[", i, "]");
    if (!NonEmptyArray(r, "verbs")) {
      causes.push_back({"FieldValueRequired", "Required value: verbs must contain at least one value", at + ".verbs"});
    }
    if (NonEmptyArray(r, "nonResourceURLs")) {
      std::string urls = json::Serialize(*r.Find("nonResourceURLs"));
      if (namespaced) {
        causes.push_back({"FieldValueInvalid",
                          StrCat("Invalid value: ", urls, ": namespaced rules cannot apply to non-resource URLs"),
                          at + ".nonResourceURLs"});
      }
      if (NonEmptyArray(r, "apiGroups") || NonEmptyArray(r, "resources") || NonEmptyArray(r, "resourceNames")) {
        causes.push_back({"FieldValueInvalid",
                          StrCat("Invalid value: ", urls, ": rules cannot apply to both regular resources and non-resource URLs"),
                          at + ".nonResourceURLs"});
      }
      continue;
    }
    if (!NonEmptyArray(r, "apiGroups")) {
      causes.push_back({"FieldValueRequired", "Required value: resource rules must supply at least one api group",
                        at + ".apiGroups"});
    }
    if (!NonEmptyArray(r, "resources")) {
      causes.push_back({"FieldValueRequired", "Required value: resource rules must supply at least one resource",
                        at + ".resources"});
    }
  }
  return causes;
}

class RoleStrategy final : public Strategy {
 public:
  explicit RoleStrategy(bool namespaced) : namespaced_(namespaced) {}
  std::vector<api::Cause> Validate(const json::Value& object) const override { return RuleCauses(object, namespaced_); }
  NameRule Naming() const override { return NameRule::kPathSegment; }

 private:
  bool namespaced_;
};

class BindingStrategy final : public Strategy {
 public:
  explicit BindingStrategy(bool cluster) : cluster_(cluster) {}

  void Default(json::Value& object) const override {
    if (json::Value* ref = object.Find("roleRef"); ref && ref->is_object()) {
      if (ref->GetString({"apiGroup"}).empty()) ref->Set("apiGroup", kRbacGroup);
    }
    if (json::Value* subjects = object.Find("subjects"); subjects && subjects->is_array()) {
      for (json::Value& s : subjects->as_array()) {
        if (!s.is_object() || s.Find("apiGroup")) continue;
        std::string kind = s.GetString({"kind"});
        if (kind == "User" || kind == "Group") s.Set("apiGroup", kRbacGroup);
        if (kind == "ServiceAccount") s.Set("apiGroup", "");
      }
    }
  }

  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    std::string group = object.GetString({"roleRef", "apiGroup"});
    if (group != kRbacGroup) {
      causes.push_back({"FieldValueNotSupported",
                        StrCat("Unsupported value: \"", group, "\": supported values: \"", kRbacGroup, "\""), "roleRef.apiGroup"});
    }
    std::string kind = object.GetString({"roleRef", "kind"});
    if (cluster_ && kind != "ClusterRole") {
      causes.push_back({"FieldValueNotSupported", StrCat("Unsupported value: \"", kind, "\": supported values: \"ClusterRole\""),
                        "roleRef.kind"});
    } else if (!cluster_ && kind != "Role" && kind != "ClusterRole") {
      causes.push_back({"FieldValueNotSupported",
                        StrCat("Unsupported value: \"", kind, "\": supported values: \"Role\", \"ClusterRole\""), "roleRef.kind"});
    }
    if (object.GetString({"roleRef", "name"}).empty()) {
      causes.push_back({"FieldValueRequired", "Required value", "roleRef.name"});
    }
    const json::Value* subjects = object.Find("subjects");
    if (subjects == nullptr || !subjects->is_array()) return causes;
    for (size_t i = 0; i < subjects->as_array().size(); ++i) {
      const json::Value& s = subjects->as_array()[i];
      const std::string at = StrCat("subjects[", i, "]");
      if (s.GetString({"name"}).empty()) causes.push_back({"FieldValueRequired", "Required value", at + ".name"});
      std::string skind = s.GetString({"kind"});
      std::string sgroup = s.GetString({"apiGroup"});
      if (skind == "ServiceAccount") {
        if (!sgroup.empty()) {
          causes.push_back({"FieldValueNotSupported", StrCat("Unsupported value: \"", sgroup, "\": supported values: \"\""),
                            at + ".apiGroup"});
        }
        if (cluster_ && s.GetString({"namespace"}).empty()) {
          causes.push_back({"FieldValueRequired", "Required value", at + ".namespace"});
        }
      } else if (skind == "User" || skind == "Group") {
        if (sgroup != kRbacGroup) {
          causes.push_back({"FieldValueNotSupported",
                            StrCat("Unsupported value: \"", sgroup, "\": supported values: \"", kRbacGroup, "\""),
                            at + ".apiGroup"});
        }
      } else {
        causes.push_back({"FieldValueNotSupported",
                          StrCat("Unsupported value: \"", skind, "\": supported values: \"ServiceAccount\", \"User\", \"Group\""),
                          at + ".kind"});
      }
    }
    return causes;
  }

  NameRule Naming() const override { return NameRule::kPathSegment; }

  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    const json::Value* now = object.Find("roleRef");
    const json::Value* was = old.Find("roleRef");
    if ((now == nullptr) != (was == nullptr) || (now && !(*now == *was))) {
      return {{"FieldValueInvalid", StrCat("Invalid value: ", now ? json::Serialize(*now) : "null", ": cannot change roleRef"),
               "roleRef"}};
    }
    return {};
  }

 private:
  bool cluster_;
};

}  // namespace

std::shared_ptr<const Strategy> RbacRoleStrategy() { return std::make_shared<RoleStrategy>(true); }
std::shared_ptr<const Strategy> RbacClusterRoleStrategy() { return std::make_shared<RoleStrategy>(false); }
std::shared_ptr<const Strategy> RbacRoleBindingStrategy() { return std::make_shared<BindingStrategy>(false); }
std::shared_ptr<const Strategy> RbacClusterRoleBindingStrategy() { return std::make_shared<BindingStrategy>(true); }

}  // namespace berth::apiserver::registry::kinds
