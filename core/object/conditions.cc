#include "core/object/conditions.h"

#include "core/time/clock.h"

namespace berth::object {

const json::Value* FindCondition(const json::Value& object, std::string_view type) {
  const json::Value* conds = object.Get({"status", "conditions"});
  if (conds == nullptr || !conds->is_array()) return nullptr;
  for (const json::Value& c : conds->as_array()) {
    const json::Value* t = c.Find("type");
    if (t && t->is_string() && t->as_string() == type) return &c;
  }
  return nullptr;
}

bool IsConditionTrue(const json::Value& object, std::string_view type) {
  const json::Value* c = FindCondition(object, type);
  return c != nullptr && c->GetString({"status"}) == "True";
}

bool SetCondition(json::Value& object, std::string_view type, std::string_view status, std::string_view reason,
                  std::string_view message, absl::Time now) {
  json::Value& conds = object.Ensure({"status", "conditions"});
  if (!conds.is_array()) conds = json::Value::MakeArray();
  for (json::Value& c : conds.as_array()) {
    if (c.GetString({"type"}) != type) continue;
    bool changed = c.GetString({"status"}) != status || c.GetString({"reason"}) != reason ||
                   c.GetString({"message"}) != message;
    if (c.GetString({"status"}) != status) c.Set("lastTransitionTime", FormatRfc3339(now));
    if (changed) {
      c.Set("status", status);
      c.Set("reason", reason);
      c.Set("message", message);
      c.Set("lastUpdateTime", FormatRfc3339(now));
    }
    return changed;
  }
  json::Value c = json::Value::MakeObject();
  c.Set("type", type);
  c.Set("status", status);
  c.Set("lastUpdateTime", FormatRfc3339(now));
  c.Set("lastTransitionTime", FormatRfc3339(now));
  c.Set("reason", reason);
  c.Set("message", message);
  conds.as_array().push_back(std::move(c));
  return true;
}

std::string TransitionTime(const json::Value& object, std::string_view type, std::string_view status,
                           const std::string& now) {
  const json::Value* c = FindCondition(object, type);
  if (c != nullptr && c->GetString({"status"}) == status) {
    std::string t = c->GetString({"lastTransitionTime"});
    if (!t.empty()) return t;
  }
  return now;
}

}  // namespace berth::object
