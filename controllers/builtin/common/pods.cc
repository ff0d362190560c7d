#include "controllers/builtin/common/pods.h"

#include "core/time/clock.h"

namespace berth::controllers::builtin {

int64_t IntAt(const json::Value& v, std::initializer_list<std::string_view> path, int64_t fallback) {
  const json::Value* x = v.Get(path);
  return x && x->is_int() ? x->as_int() : fallback;
}

bool IsPodActive(const json::Value& pod) {
  std::string phase = pod.GetString({"status", "phase"});
  return phase != "Succeeded" && phase != "Failed" && pod.Get({"metadata", "deletionTimestamp"}) == nullptr;
}

bool IsPodReady(const json::Value& pod) { return object::IsConditionTrue(pod, "Ready"); }

bool IsPodAvailable(const json::Value& pod, int64_t min_ready_seconds, absl::Time now) {
  if (!IsPodReady(pod)) return false;
  if (min_ready_seconds <= 0) return true;
  const json::Value* c = FindCondition(pod, "Ready");
  absl::Time since;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, c->GetString({"lastTransitionTime"}), &since, &err)) return false;
  return since + absl::Seconds(min_ready_seconds) <= now;
}

std::string ControllerUid(const json::Value& object) {
  const json::Value* refs = object.Get({"metadata", "ownerReferences"});
  if (refs == nullptr || !refs->is_array()) return "";
  for (const json::Value& r : refs->as_array()) {
    const json::Value* c = r.Find("controller");
    if (c && c->is_bool() && c->as_bool()) return r.GetString({"uid"});
  }
  return "";
}

json::Value OwnerReference(const json::Value& owner, bool controller) {
  json::Value ref = json::Value::MakeObject();
  ref.Set("apiVersion", owner.GetString({"apiVersion"}));
  ref.Set("kind", owner.GetString({"kind"}));
  ref.Set("name", owner.GetString({"metadata", "name"}));
  ref.Set("uid", owner.GetString({"metadata", "uid"}));
  ref.Set("controller", controller);
  ref.Set("blockOwnerDeletion", true);
  return ref;
}

json::Value PodFromTemplate(const json::Value& owner, const json::Value& pod_template) {
  json::Value pod = json::Value::MakeObject();
  pod.Set("apiVersion", "v1");
  pod.Set("kind", "Pod");
  json::Value meta = json::Value::MakeObject();
  if (const json::Value* m = pod_template.Find("metadata"); m && m->is_object()) meta = *m;
  meta.Erase("name");
  meta.Set("generateName", owner.GetString({"metadata", "name"}) + "-");
  meta.Set("namespace", owner.GetString({"metadata", "namespace"}));
  json::Value refs = json::Value::MakeArray();
  refs.as_array().push_back(OwnerReference(owner));
  meta.Set("ownerReferences", std::move(refs));
  pod.Set("metadata", std::move(meta));
  if (const json::Value* spec = pod_template.Find("spec")) pod.Set("spec", *spec);
  return pod;
}

}  // namespace berth::controllers::builtin
