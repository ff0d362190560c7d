#include "core/patch/strategic_merge.h"

#include <string>
#include <string_view>

#include "core/strings/strings.h"

namespace berth::patch {
namespace {

// Field name -> merge key. "" marks a primitive list merged as a set (finalizers).
struct MergeKey {
  std::string_view field;
  std::string_view key;
};
constexpr MergeKey kMergeKeys[] = {
    {"containers", "name"},      {"initContainers", "name"}, {"ephemeralContainers", "name"},
    {"env", "name"},             {"volumes", "name"},        {"imagePullSecrets", "name"},
    {"volumeMounts", "mountPath"}, {"volumeDevices", "devicePath"}, {"ports", "containerPort"},
    {"conditions", "type"},      {"ownerReferences", "uid"}, {"hostAliases", "ip"},
    {"topologySpreadConstraints", "topologyKey"}, {"resourceClaims", "name"},
    {"finalizers", ""},
};

const MergeKey* KeyFor(std::string_view field) {
  for (const MergeKey& k : kMergeKeys) {
    if (k.field == field) return &k;
  }
  return nullptr;
}

absl::Status MergeObject(json::Value& target, const json::Value& patch, int depth);

bool SameKey(const json::Value& a, const json::Value& b, std::string_view key) {
  const json::Value* x = a.Find(key);
  const json::Value* y = b.Find(key);
  return x && y && *x == *y;
}

absl::Status MergeList(json::Value& target, const json::Value& patch, std::string_view key, int depth) {
  if (!target.is_array()) target = json::Value::MakeArray();
  json::Array& items = target.as_array();
  for (const json::Value& p : patch.as_array()) {
    if (key.empty()) {
      bool present = false;
      for (const json::Value& t : items) present = present || t == p;
      if (!present) items.push_back(p);
      continue;
    }
    if (!p.is_object()) {
      return absl::InvalidArgumentError(StrCat("strategic merge patch: list items of a merge list must be objects"));
    }
    std::string directive = p.GetString({"$patch"});
    auto it = items.begin();
    for (; it != items.end(); ++it) {
      if (SameKey(*it, p, key)) break;
    }
    if (directive == "delete") {
      if (it != items.end()) items.erase(it);
      continue;
    }
    if (directive == "replace") {
      json::Value clean = p;
      clean.Erase("$patch");
      if (it != items.end()) {
        *it = std::move(clean);
      } else {
        items.push_back(std::move(clean));
      }
      continue;
    }
    if (it == items.end()) {
      json::Value fresh = json::Value::MakeObject();
      if (auto s = MergeObject(fresh, p, depth + 1); !s.ok()) return s;
      items.push_back(std::move(fresh));
    } else {
      if (auto s = MergeObject(*it, p, depth + 1); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

void ApplyOrder(json::Value& list, const json::Value& order, std::string_view key) {
  if (!list.is_array() || !order.is_array()) return;
  json::Array sorted;
  json::Array& items = list.as_array();
  std::vector<bool> used(items.size(), false);
  for (const json::Value& o : order.as_array()) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (used[i]) continue;
      bool match = key.empty() ? items[i] == o : SameKey(items[i], o, key);
      if (match) {
        sorted.push_back(items[i]);
        used[i] = true;
        break;
      }
    }
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (!used[i]) sorted.push_back(items[i]);
  }
  items = std::move(sorted);
}

absl::Status MergeObject(json::Value& target, const json::Value& patch, int depth) {
  if (depth > 64) return absl::InvalidArgumentError("strategic merge patch: nesting too deep");
  if (!patch.is_object()) {
    target = patch;
    return absl::OkStatus();
  }
  std::string directive = patch.GetString({"$patch"});
  if (directive == "replace") {
    json::Value clean = patch;
    clean.Erase("$patch");
    target = std::move(clean);
    return absl::OkStatus();
  }
  if (directive == "delete") {
    target = json::Value::MakeObject();
    return absl::OkStatus();
  }
  if (!target.is_object()) target = json::Value::MakeObject();
  // $retainKeys: keys of the target not listed are dropped (used with union fields).
  if (const json::Value* retain = patch.Find("$retainKeys"); retain && retain->is_array()) {
    json::Object kept;
    for (auto& m : target.as_object()) {
      for (const json::Value& k : retain->as_array()) {
        if (k.is_string() && k.as_string() == m.first) {
          kept.push_back(m);
          break;
        }
      }
    }
    target.as_object() = std::move(kept);
  }
  for (const auto& [field, value] : patch.as_object()) {
    if (field == "$patch" || field == "$retainKeys" || field.rfind("$setElementOrder/", 0) == 0) continue;
    if (field.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      std::string list = field.substr(std::string_view("$deleteFromPrimitiveList/").size());
      json::Value* existing = target.Find(list);
      if (existing && existing->is_array() && value.is_array()) {
        json::Array kept;
        for (json::Value& e : existing->as_array()) {
          bool drop = false;
          for (const json::Value& d : value.as_array()) drop = drop || d == e;
          if (!drop) kept.push_back(std::move(e));
        }
        existing->as_array() = std::move(kept);
      }
      continue;
    }
    if (value.is_null()) {
      target.Erase(field);
      continue;
    }
    const MergeKey* mk = KeyFor(field);
    if (value.is_array() && mk != nullptr) {
      if (auto s = MergeList(target[field], value, mk->key, depth); !s.ok()) return s;
      continue;
    }
    if (value.is_object()) {
      if (auto s = MergeObject(target[field], value, depth + 1); !s.ok()) return s;
      continue;
    }
    target.Set(field, value);
  }
  for (const auto& [field, value] : patch.as_object()) {
    if (field.rfind("$setElementOrder/", 0) != 0) continue;
    std::string list = field.substr(std::string_view("$setElementOrder/").size());
    const MergeKey* mk = KeyFor(list);
    if (json::Value* existing = target.Find(list)) ApplyOrder(*existing, value, mk ? mk->key : "");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<json::Value> StrategicMergePatch(const json::Value& target, const json::Value& patch) {
  if (!patch.is_object()) {
    return absl::InvalidArgumentError("a strategic merge patch must be a JSON object");
  }
  json::Value out = target;
  if (auto s = MergeObject(out, patch, 0); !s.ok()) return s;
  return out;
}

}  // namespace berth::patch
