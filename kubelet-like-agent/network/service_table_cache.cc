#include "kubelet-like-agent/network/service_table_cache.h"

#include <algorithm>

#include "core/strings/strings.h"

namespace berth::agent::network {
namespace {

std::string KeyOf(const json::Value& o, const std::string& name) {
  return StrCat(o.GetString({"metadata", "namespace"}), "/", name);
}

// Adds `part` (one Service's chains, sets and map elements) to `whole`.
void Merge(ServiceTable& whole, const ServiceTable& part) {
  for (const auto& [name, rules] : part.chains) whole.chains[name] = rules;
  for (const auto& [name, body] : part.sets) whole.sets[name] = body;
  for (const auto& [map, elements] : part.maps) whole.maps[map].insert(elements.begin(), elements.end());
}

}  // namespace

void ServiceTableCache::Refresh(const std::vector<const json::Value*>& services,
                                const std::vector<const json::Value*>& slices) {
  std::map<std::string, std::vector<const json::Value*>> slices_of;
  for (const json::Value* s : slices) {
    std::string svc = s->GetString({"metadata", "labels", "kubernetes.io/service-name"});
    if (!svc.empty()) slices_of[KeyOf(*s, svc)].push_back(s);
  }
  std::set<std::string> seen;
  for (const json::Value* svc : services) {
    std::string key = KeyOf(*svc, svc->GetString({"metadata", "name"}));
    seen.insert(key);
    std::vector<const json::Value*>& own = slices_of[key];
    std::sort(own.begin(), own.end(), [](const json::Value* a, const json::Value* b) {
      return a->GetString({"metadata", "name"}) < b->GetString({"metadata", "name"});
    });
    std::string fingerprint = svc->GetString({"metadata", "resourceVersion"});
    for (const json::Value* s : own) {
      StrAppend(&fingerprint, " ", s->GetString({"metadata", "name"}), "@", s->GetString({"metadata", "resourceVersion"}));
    }
    auto it = desired_.find(key);
    // An object without a resourceVersion (tests, a fake) is rebuilt every time.
    if (it != desired_.end() && it->second.fingerprint == fingerprint && !svc->GetString({"metadata", "resourceVersion"}).empty()) {
      continue;
    }
    ServiceTable part = BuildServiceTable(ServicePortRules({svc}, own), options_);
    if (it == desired_.end()) it = desired_.emplace(key, Entry{}).first;
    it->second.fingerprint = std::move(fingerprint);
    if (!(it->second.table == part)) {
      it->second.table = std::move(part);
      changed_.insert(key);
    }
  }
  for (auto it = desired_.begin(); it != desired_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    changed_.insert(it->first);
    it = desired_.erase(it);
  }
}

std::string ServiceTableCache::Script() const {
  if (!programmed_valid_) return FullTableScript(Desired());
  static const ServiceTable kNone;
  std::string script;
  for (const std::string& key : changed_) {
    auto from = programmed_.find(key);
    auto to = desired_.find(key);
    script += IncrementalTableScript(from == programmed_.end() ? kNone : from->second,
                                     to == desired_.end() ? kNone : to->second.table);
  }
  return script;
}

void ServiceTableCache::MarkProgrammed() {
  if (!programmed_valid_) {
    programmed_.clear();
    for (const auto& [key, entry] : desired_) programmed_[key] = entry.table;
  } else {
    for (const std::string& key : changed_) {
      auto to = desired_.find(key);
      if (to == desired_.end()) programmed_.erase(key);
      else programmed_[key] = to->second.table;
    }
  }
  changed_.clear();
  programmed_valid_ = true;
}

ServiceTable ServiceTableCache::Desired() const {
  ServiceTable whole;
  whole.options = options_;
  for (const auto& [key, entry] : desired_) Merge(whole, entry.table);
  return whole;
}

}  // namespace berth::agent::network
