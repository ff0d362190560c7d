#include "core/resource/quota.h"

#include <algorithm>

#include "core/resource/quantity.h"

namespace berth::resource {
namespace {

bool IsBestEffort(const json::Value& pod) {
  for (const char* list : {"containers", "initContainers"}) {
    const json::Value* cs = pod.Get({"spec", list});
    if (cs == nullptr || !cs->is_array()) continue;
    for (const json::Value& c : cs->as_array()) {
      for (const char* f : {"requests", "limits"}) {
        const json::Value* l = c.Get({"resources", f});
        if (l == nullptr || !l->is_object()) continue;
        for (const auto& [name, q] : l->as_object()) {
          if ((name == "cpu" || name == "memory") && MilliOf(&q) != 0) return false;
        }
      }
    }
  }
  return true;
}

bool IsTerminating(const json::Value& pod) {
  const json::Value* d = pod.Get({"spec", "activeDeadlineSeconds"});
  return d && d->is_int() && d->as_int() >= 0;
}

bool ScopeMatches(const std::string& scope, const std::string& op, const std::vector<std::string>& values,
                  const json::Value& pod) {
  bool match;
  if (scope == "Terminating") {
    match = IsTerminating(pod);
  } else if (scope == "NotTerminating") {
    match = !IsTerminating(pod);
  } else if (scope == "BestEffort") {
    match = IsBestEffort(pod);
  } else if (scope == "NotBestEffort") {
    match = !IsBestEffort(pod);
  } else if (scope == "PriorityClass") {
    std::string cls = pod.GetString({"spec", "priorityClassName"});
    bool in = std::find(values.begin(), values.end(), cls) != values.end();
    if (op == "In") return in;
    if (op == "NotIn") return !in;
    if (op == "Exists") return !cls.empty();
    if (op == "DoesNotExist") return cls.empty();
    return false;
  } else if (scope == "CrossNamespacePodAffinity") {
    match = false;  // pods with cross-namespace affinity terms are not served
  } else {
    return false;
  }
  return op == "DoesNotExist" ? !match : match;
}

bool IsExtendedOrHugePages(const std::string& name) {
  if (name.rfind("hugepages-", 0) == 0) return true;
  size_t slash = name.find('/');
  return slash != std::string::npos && name.substr(0, slash) != "kubernetes.io";
}

}  // namespace

bool QuotaMatchesPod(const json::Value& quota, const json::Value& pod) {
  if (const json::Value* scopes = quota.Get({"spec", "scopes"}); scopes && scopes->is_array()) {
    for (const json::Value& s : scopes->as_array()) {
      if (!s.is_string() || !ScopeMatches(s.as_string(), "Exists", {}, pod)) return false;
    }
  }
  if (const json::Value* exprs = quota.Get({"spec", "scopeSelector", "matchExpressions"}); exprs && exprs->is_array()) {
    for (const json::Value& e : exprs->as_array()) {
      std::vector<std::string> values;
      if (const json::Value* vs = e.Find("values"); vs && vs->is_array()) {
        for (const json::Value& v : vs->as_array()) values.push_back(v.is_string() ? v.as_string() : "");
      }
      if (!ScopeMatches(e.GetString({"scopeName"}), e.GetString({"operator"}), values, pod)) return false;
    }
  }
  return true;
}

ResourceList PodQuotaUsage(const json::Value& pod) {
  ResourceList use = {{"pods", 1000}, {"count/pods", 1000}};
  for (const auto& [name, milli] : PodRequests(pod)) {
    if (name == "cpu" || name == "memory" || name == "ephemeral-storage") use[name] += milli;
    use["requests." + name] += milli;
  }
  for (const auto& [name, milli] : PodLimits(pod)) {
    if (!IsExtendedOrHugePages(name)) use["limits." + name] += milli;
  }
  return use;
}

std::vector<std::string> MissingPodQuotaFields(const json::Value& quota, const json::Value& pod) {
  const json::Value* hard = quota.Get({"spec", "hard"});
  if (hard == nullptr || !hard->is_object()) return {};
  std::vector<std::string> missing;
  for (const char* resource : {"cpu", "memory"}) {
    for (const char* kind : {"requests", "limits"}) {
      std::string name = std::string(kind) + "." + resource;
      bool limited = hard->Find(name) != nullptr || (std::string_view(kind) == "requests" && hard->Find(resource));
      if (!limited) continue;
      bool all = true;
      for (const char* list : {"containers", "initContainers"}) {
        const json::Value* cs = pod.Get({"spec", list});
        if (cs == nullptr || !cs->is_array()) continue;
        for (const json::Value& c : cs->as_array()) {
          // A request may come from the limit (the apiserver defaults it so).
          bool has = c.Get({"resources", kind, resource}) != nullptr ||
                     (std::string_view(kind) == "requests" && c.Get({"resources", "limits", resource}) != nullptr);
          if (!has) all = false;
        }
      }
      if (!all) missing.push_back(name);
    }
  }
  return missing;
}

ResourceList QuotaHard(const json::Value& quota, std::map<std::string, std::string>* text) {
  ResourceList hard;
  if (const json::Value* h = quota.Get({"spec", "hard"}); h && h->is_object()) {
    for (const auto& [name, q] : h->as_object()) {
      hard[name] = MilliOf(&q);
      if (text) (*text)[name] = q.is_string() ? q.as_string() : "";
    }
  }
  return hard;
}

}  // namespace berth::resource
