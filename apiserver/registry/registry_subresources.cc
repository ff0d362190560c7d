// The subresources the registry serves beside CRUD: pods/binding and the autoscaling/v1 Scale
// view (/scale) of kinds that have one.

#include "apiserver/registry/registry.h"
#include "core/api/errors.h"
#include "core/selector/label_selector.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {

absl::Status Registry::Bind(const std::string& ns, const std::string& name,
                            const json::Value& binding, bool dry_run) {
  const ResourceType* pods = catalog_.Find("", "v1", "pods");
  // Kubernetes' ValidatePodBinding: the pod itself is not admitted again (GuaranteedUpdate).
  std::string node = binding.GetString({"target", "name"});
  std::string kind = binding.GetString({"target", "kind"});
  std::vector<api::Cause> causes;
  if (!kind.empty() && kind != "Node") {
    causes.push_back({"FieldValueNotSupported",
                      StrCat("Unsupported value: \"", kind, "\": supported values: \"Node\", \"<empty>\""), "target.kind"});
  }
  if (node.empty()) causes.push_back({"FieldValueRequired", "Required value", "target.name"});
  if (!causes.empty()) return api::Invalid(pods->Target(name), std::move(causes));
  WriteOptions opts;
  opts.dry_run = dry_run;
  auto r = GuaranteedUpdate(*pods, ns, name, Subresource::kBinding, opts,
      [&](const json::Value& cur) -> absl::StatusOr<json::Value> {
        std::string bound = cur.GetString({"spec", "nodeName"});
        if (!bound.empty()) {
          return api::Conflict(pods->Target(name), StrCat("pod ", name, " is already assigned to node \"", bound, "\""));
        }
        if (cur.Get({"metadata", "deletionTimestamp"})) {
          return api::Conflict(pods->Target(name), StrCat("pod ", name, " is being deleted, cannot be assigned to a host"));
        }
        json::Value next = cur;
        // No precondition: a status write racing the binding is retried, not a 409.
        if (json::Value* meta = next.Find("metadata")) meta->Erase("resourceVersion");
        next.Ensure({"spec"}).Set("nodeName", node);
        json::Value& conds = next.Ensure({"status", "conditions"});
        if (!conds.is_array()) conds = json::Value::MakeArray();
        json::Array kept;
        for (json::Value& c : conds.as_array()) {
          if (c.GetString({"type"}) != "PodScheduled") kept.push_back(std::move(c));
        }
        json::Value c = json::Value::MakeObject();
        c.Set("type", "PodScheduled");
        c.Set("status", "True");
        c.Set("lastProbeTime", json::Value());
        c.Set("lastTransitionTime", FormatRfc3339(clock_.Now()));
        kept.push_back(std::move(c));
        conds.as_array() = std::move(kept);
        return next;
      },
      /*allow_retry=*/true, /*check_update_rules=*/false);
  return r.status();
}

namespace {
const json::Value* AtPath(const json::Value& obj, std::string_view dotted) {
  const json::Value* cur = &obj;
  for (std::string_view step : Split(dotted, '.')) {
    cur = cur->Find(step);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}
void SetPath(json::Value& obj, std::string_view dotted, json::Value v) {
  json::Value* cur = &obj;
  auto steps = Split(dotted, '.');
  for (size_t i = 0; i + 1 < steps.size(); ++i) cur = &(*cur)[steps[i]];
  cur->Set(steps.back(), std::move(v));
}
}  // namespace

absl::StatusOr<json::Value> Registry::GetScale(const ResourceType& type, const std::string& ns,
                                               const std::string& name) const {
  BERTH_ASSIGN_OR_RETURN(auto current, Read(type, ns, name));
  const json::Value& obj = current.first;
  json::Value scale = json::Value::MakeObject();
  scale.Set("kind", "Scale");
  scale.Set("apiVersion", "autoscaling/v1");
  json::Value meta = json::Value::MakeObject();
  for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (const json::Value* v = obj.Get({"metadata", f})) meta.Set(f, *v);
  }
  scale.Set("metadata", std::move(meta));
  const json::Value* spec_replicas = AtPath(obj, type.scale_spec_path);
  scale.Ensure({"spec"}).Set("replicas", spec_replicas && spec_replicas->is_int() ? spec_replicas->as_int() : (type.custom ? 0 : 1));
  const json::Value* st_replicas = AtPath(obj, type.scale_status_path);
  json::Value& status = scale.Ensure({"status"});
  status.Set("replicas", st_replicas && st_replicas->is_int() ? st_replicas->as_int() : 0);
  if (!type.scale_selector_path.empty()) {
    const json::Value* sel = AtPath(obj, type.scale_selector_path);
    if (sel && sel->is_string()) status.Set("selector", *sel);
  } else if (const json::Value* sel = obj.Get({"spec", "selector"})) {
    auto parsed = selector::LabelSelector::FromObject(*sel);
    if (parsed.ok()) status.Set("selector", parsed->ToString());
  }
  return scale;
}

absl::StatusOr<json::Value> Registry::UpdateScale(const ResourceType& type, const std::string& ns,
                                                  const std::string& name, const json::Value& scale,
                                                  const WriteOptions& options) {
  const json::Value* replicas = scale.Get({"spec", "replicas"});
  if (replicas == nullptr || !replicas->is_int() || replicas->as_int() < 0) {
    return api::Invalid({"autoscaling", "scale", name, "Scale"},
                        {{"FieldValueInvalid", "Invalid value: must be greater than or equal to 0", "spec.replicas"}});
  }
  std::string rv = scale.GetString({"metadata", "resourceVersion"});
  auto r = GuaranteedUpdate(type, ns, name, Subresource::kNone, options,
      [&](const json::Value& cur) -> absl::StatusOr<json::Value> {
        json::Value next = cur;
        SetPath(next, type.scale_spec_path, replicas->as_int());
        // Without a resourceVersion in the Scale the write has no precondition: the stored one
        // (read a moment ago) must not become one, or a concurrent status update by the
        // controller makes the scale fail with 409 instead of being retried.
        if (!rv.empty()) {
          next.Ensure({"metadata"}).Set("resourceVersion", rv);
        } else if (json::Value* meta = next.Find("metadata")) {
          meta->Erase("resourceVersion");
        }
        return next;
      },
      rv.empty());
  if (!r.ok()) return r.status();
  return GetScale(type, ns, name);
}

}  // namespace berth::apiserver::registry
