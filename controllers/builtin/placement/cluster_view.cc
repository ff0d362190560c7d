#include "controllers/builtin/placement/cluster_view.h"

namespace berth::controllers::builtin {

bool ClusterView::HasPodAffinity(const json::Value& pod) {
  const json::Value* affinity = pod.Get({"spec", "affinity"});
  return affinity && (affinity->Find("podAffinity") || affinity->Find("podAntiAffinity"));
}

const std::string* LabelOf(const json::Value& object, const std::string& key) {
  const json::Value* labels = object.Get({"metadata", "labels"});
  const json::Value* v = labels ? labels->Find(key) : nullptr;
  return v && v->is_string() ? &v->as_string() : nullptr;
}

absl::StatusOr<std::optional<selector::LabelSelector>> PodSelectorOf(const json::Value* label_selector,
                                                                     const json::Value& owner,
                                                                     const json::Value* match_label_keys,
                                                                     const json::Value* mismatch_label_keys) {
  if (label_selector == nullptr || !label_selector->is_object()) return std::optional<selector::LabelSelector>();
  json::Value merged = *label_selector;
  auto add = [&](const json::Value* keys, const char* op) {
    if (keys == nullptr || !keys->is_array()) return;
    for (const json::Value& k : keys->as_array()) {
      if (!k.is_string()) continue;
      const std::string* value = LabelOf(owner, k.as_string());
      if (value == nullptr) continue;
      json::Value expr = json::Value::MakeObject();
      expr.Set("key", k.as_string());
      expr.Set("operator", op);
      json::Value values = json::Value::MakeArray();
      values.as_array().push_back(*value);
      expr.Set("values", std::move(values));
      json::Value& exprs = merged.Ensure({"matchExpressions"});
      if (!exprs.is_array()) exprs = json::Value::MakeArray();
      exprs.as_array().push_back(std::move(expr));
    }
  };
  add(match_label_keys, "In");
  add(mismatch_label_keys, "NotIn");
  auto parsed = selector::LabelSelector::FromObject(merged);
  if (!parsed.ok()) return parsed.status();
  return std::optional<selector::LabelSelector>(std::move(*parsed));
}

}  // namespace berth::controllers::builtin
