#include "core/json/value.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace berth::json {

// Duplicate keys: the last value wins at the first key's position, as Value::Set would do.
// Done once per object with a hash map, so an object of n keys costs O(n), not O(n^2).
void RemoveDuplicateKeys(Object& members) {
  if (members.size() < 2) return;
  if (members.size() <= 16) {
    // Most objects are small: compare in place, no allocation (this runs for every object of
    // every document parsed).
    bool duplicates = false;
    for (size_t i = 1; i < members.size() && !duplicates; ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (members[i].first == members[j].first) {
          duplicates = true;
          break;
        }
      }
    }
    if (!duplicates) return;
    Object kept;
    for (auto& m : members) {
      auto it = std::find_if(kept.begin(), kept.end(), [&](const Member& k) { return k.first == m.first; });
      if (it == kept.end()) kept.push_back(std::move(m));
      else it->second = std::move(m.second);
    }
    members = std::move(kept);
    return;
  }
  absl::flat_hash_map<std::string_view, size_t> first;
  first.reserve(members.size());
  bool duplicates = false;
  for (size_t i = 0; i < members.size(); ++i) {
    auto [it, inserted] = first.try_emplace(members[i].first, i);
    if (!inserted) {
      duplicates = true;
      members[it->second].second = std::move(members[i].second);
    }
  }
  if (!duplicates) return;
  // Decide before moving anything: the map's keys view the members' strings.
  std::vector<bool> keep(members.size(), false);
  for (const auto& [key, index] : first) keep[index] = true;
  first.clear();
  Object kept;
  kept.reserve(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    if (keep[i]) kept.push_back(std::move(members[i]));
  }
  members = std::move(kept);
}


const Value* Value::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : as_object()) {
    if (k == key) return &v;
  }
  return nullptr;
}

Value* Value::Find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->Find(key));
}

Value& Value::Set(std::string_view key, Value v) {
  if (!is_object()) v_ = Object{};
  if (Value* existing = Find(key)) {
    *existing = std::move(v);
    return *existing;
  }
  auto& obj = as_object();
  obj.emplace_back(std::string(key), std::move(v));
  return obj.back().second;
}

Value& Value::operator[](std::string_view key) {
  if (!is_object()) v_ = Object{};
  if (Value* existing = Find(key)) return *existing;
  auto& obj = as_object();
  obj.emplace_back(std::string(key), Value());
  return obj.back().second;
}

bool Value::Erase(std::string_view key) {
  if (!is_object()) return false;
  auto& obj = as_object();
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it->first == key) {
      obj.erase(it);
      return true;
    }
  }
  return false;
}

const Value* Value::Get(std::initializer_list<std::string_view> path) const {
  const Value* cur = this;
  for (std::string_view step : path) {
    cur = cur->Find(step);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string Value::GetString(std::initializer_list<std::string_view> path,
                             std::string_view fallback) const {
  const Value* v = Get(path);
  if (v == nullptr || !v->is_string()) return std::string(fallback);
  return v->as_string();
}

int64_t Value::GetInt(std::initializer_list<std::string_view> path, int64_t fallback) const {
  const Value* v = Get(path);
  return v != nullptr && v->is_int() ? v->as_int() : fallback;
}

Value& Value::Ensure(std::initializer_list<std::string_view> path) {
  Value* cur = this;
  for (std::string_view step : path) {
    Value& next = (*cur)[step];
    cur = &next;
  }
  return *cur;
}

size_t Value::size() const {
  if (is_object()) return as_object().size();
  if (is_array()) return as_array().size();
  return 0;
}

bool operator==(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    // Member order does not matter for equality.
    const auto& ao = a.as_object();
    if (ao.size() != b.as_object().size()) return false;
    for (const auto& [k, v] : ao) {
      const Value* other = b.Find(k);
      if (other == nullptr || !(*other == v)) return false;
    }
    return true;
  }
  return a.v_ == b.v_;
}

}  // namespace berth::json
