#include "apiserver/registry/admission/priority.h"

#include <optional>

#include "apiserver/registry/registry.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

struct SystemClass {
  const char* name;
  int64_t value;
  const char* description;
};
constexpr SystemClass kSystemClasses[] = {
    {"system-node-critical", kSystemNodeCritical, "Used for system critical pods that must not be moved from their current node."},
    {"system-cluster-critical", kSystemClusterCritical, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
};

struct ClassInfo {
  std::string name;
  int64_t value = 0;
  std::string preemption_policy;
};

ClassInfo InfoOf(const json::Value& pc) {
  ClassInfo c;
  c.name = pc.GetString({"metadata", "name"});
  const json::Value* v = pc.Find("value");
  c.value = v && v->is_int() ? v->as_int() : 0;
  c.preemption_policy = pc.GetString({"preemptionPolicy"}, "PreemptLowerPriority");
  return c;
}

const ResourceType& PriorityClasses(const Registry& registry) {
  return *registry.catalog().Find("scheduling.k8s.io", "v1", "priorityclasses");
}

// The class named `name`, nullopt when there is none.
absl::StatusOr<std::optional<ClassInfo>> FindClass(const Registry& registry, const std::string& name) {
  auto stored = registry.Get(PriorityClasses(registry), "", name);
  if (!stored.ok()) {
    if (stored.status().code() == absl::StatusCode::kNotFound) return std::optional<ClassInfo>();
    return stored.status();
  }
  BERTH_ASSIGN_OR_RETURN(json::Value pc, json::Parse(*stored));
  return std::optional<ClassInfo>(InfoOf(pc));
}

// The global default class; when a race left several, the lowest value wins (as upstream).
absl::StatusOr<std::optional<ClassInfo>> DefaultClass(const Registry& registry) {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> items, registry.ListAll(PriorityClasses(registry), ""));
  std::optional<ClassInfo> best;
  for (const std::string& item : items) {
    BERTH_ASSIGN_OR_RETURN(json::Value pc, json::Parse(item));
    const json::Value* d = pc.Find("globalDefault");
    if (d == nullptr || !d->is_bool() || !d->as_bool()) continue;
    ClassInfo c = InfoOf(pc);
    if (!best || c.value < best->value) best = c;
  }
  return best;
}

class Priority final : public AdmissionPlugin {
 public:
  absl::Status Mutate(const AdmissionAttributes& attrs, json::Value& object) const override {
    if (attrs.type.group != "" || attrs.type.plural != "pods") return absl::OkStatus();
    json::Value* spec = object.Find("spec");
    if (spec == nullptr || !spec->is_object()) return absl::OkStatus();
    if (attrs.operation == AdmissionOperation::kUpdate) {
      // Set at create; an update that leaves them out keeps them (validation forbids changes).
      const json::Value* old_spec = attrs.old ? attrs.old->Find("spec") : nullptr;
      for (const char* f : {"priority", "preemptionPolicy"}) {
        if (spec->Find(f) == nullptr && old_spec && old_spec->Find(f)) spec->Set(f, *old_spec->Find(f));
      }
      return absl::OkStatus();
    }
    api::Target target = attrs.type.Target(object.GetString({"metadata", "name"}));
    target.kind.clear();  // Forbidden names the resource ("pods"), not the kind
    std::string class_name = spec->GetString({"priorityClassName"});
    ClassInfo resolved;
    resolved.preemption_policy = "PreemptLowerPriority";
    if (class_name.empty()) {
      BERTH_ASSIGN_OR_RETURN(auto dflt, DefaultClass(attrs.registry));
      if (dflt) {
        resolved = *dflt;
        spec->Set("priorityClassName", dflt->name);
      }
    } else {
      BERTH_ASSIGN_OR_RETURN(auto found, FindClass(attrs.registry, class_name));
      if (!found) return api::Forbidden(target, StrCat("no PriorityClass with name ", class_name, " was found"));
      resolved = *found;
    }
    if (const json::Value* given = spec->Find("priority"); given && !(given->is_int() && given->as_int() == resolved.value)) {
      return api::Forbidden(target, StrCat("the integer value of priority (", json::Serialize(*given),
                                           ") must not be provided in pod spec; priority admission controller computed ",
                                           resolved.value, " from the given PriorityClass name"));
    }
    if (const json::Value* given = spec->Find("preemptionPolicy");
        given && !(given->is_string() && given->as_string() == resolved.preemption_policy)) {
      return api::Forbidden(target, StrCat("the string value of PreemptionPolicy (",
                                           given->is_string() ? given->as_string() : json::Serialize(*given),
                                           ") must not be provided in pod spec; priority admission controller computed ",
                                           resolved.preemption_policy, " from the given PriorityClass name"));
    }
    spec->Set("priority", resolved.value);
    spec->Set("preemptionPolicy", resolved.preemption_policy);
    return absl::OkStatus();
  }

  absl::Status Validate(const AdmissionAttributes& attrs, const json::Value& object) const override {
    if (attrs.type.group != "scheduling.k8s.io" || attrs.type.plural != "priorityclasses") return absl::OkStatus();
    const json::Value* d = object.Find("globalDefault");
    if (d == nullptr || !d->is_bool() || !d->as_bool()) return absl::OkStatus();
    std::string name = object.GetString({"metadata", "name"});
    BERTH_ASSIGN_OR_RETURN(auto dflt, DefaultClass(attrs.registry));
    if (dflt && (attrs.operation == AdmissionOperation::kCreate || dflt->name != name)) {
      api::Target target = attrs.type.Target(name);
      target.kind.clear();
      return api::Forbidden(target, StrCat("PriorityClass ", dflt->name, " is already marked as default. Only one default can exist"));
    }
    return absl::OkStatus();
  }

  absl::Status ValidateDelete(const ResourceType& type, const json::Value& object) const override {
    if (type.group != "scheduling.k8s.io" || type.plural != "priorityclasses") return absl::OkStatus();
    std::string name = object.GetString({"metadata", "name"});
    for (const SystemClass& c : kSystemClasses) {
      if (name == c.name) {
        api::Target target = type.Target(name);
        target.kind.clear();
        return api::Forbidden(target, "this is a system priority class and cannot be deleted");
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::shared_ptr<const AdmissionPlugin> PriorityAdmission() { return std::make_shared<Priority>(); }

std::string SystemPriorityClassError(const std::string& name, int64_t value, bool global_default) {
  for (const SystemClass& c : kSystemClasses) {
    if (name != c.name) continue;
    if (value != c.value) return StrCat("value of ", name, " PriorityClass must be ", c.value);
    if (global_default) return StrCat("globalDefault of ", name, " PriorityClass must be false");
    return "";
  }
  return StrCat(name, " is not a known system priority class");
}

absl::Status EnsureSystemPriorityClasses(Registry& registry) {
  for (const SystemClass& c : kSystemClasses) {
    json::Value pc = json::Value::MakeObject();
    pc.Ensure({"metadata"}).Set("name", c.name);
    pc.Set("value", c.value);
    pc.Set("description", c.description);
    auto r = registry.Create(PriorityClasses(registry), "", std::move(pc), {});
    if (!r.ok() && r.status().code() != absl::StatusCode::kAlreadyExists) return r.status();
  }
  return absl::OkStatus();
}

}  // namespace berth::apiserver::registry
