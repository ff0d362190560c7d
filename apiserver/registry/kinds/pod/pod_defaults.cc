#include "apiserver/registry/kinds/pod/pod_defaults.h"

#include <set>

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "core/image/reference.h"
#include "core/json/codec.h"
#include "core/resource/quantity.h"
#include "core/selector/label_selector.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

void DefaultContainer(json::Value& c) {
  SetIfAbsent(c, "terminationMessagePath", "/dev/termination-log");
  SetIfAbsent(c, "terminationMessagePolicy", "File");
  std::string image = c.GetString({"image"});
  // An unparsable reference gets Always too: the agent reports InvalidImageName either way.
  auto reference = image::ParseReference(image);
  bool latest = !reference.ok() || reference->IsLatest();
  SetIfAbsent(c, "imagePullPolicy", latest ? "Always" : "IfNotPresent");
  SetIfAbsent(c, "resources", json::Value::MakeObject());
  if (json::Value* ports = c.Find("ports"); ports && ports->is_array()) {
    for (json::Value& p : ports->as_array()) SetIfAbsent(p, "protocol", "TCP");
  }
}

bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i != 0 && i + 1 != s.size());
    if (!ok) return false;
  }
  return true;
}

// Resources the kubelet cannot overcommit: extended resources (a domain other than
// kubernetes.io) and huge pages. Their request must equal their limit.
bool IsExtendedResource(const std::string& name) {
  size_t slash = name.find('/');
  if (slash == std::string::npos) return false;
  std::string domain = name.substr(0, slash);
  return domain != "kubernetes.io" && !domain.ends_with(".kubernetes.io") && name.rfind("requests.", 0) != 0;
}
bool IsOvercommitForbidden(const std::string& name) {
  return IsExtendedResource(name) || name.rfind("hugepages-", 0) == 0;
}

std::string QuantityText(const json::Value& q) {
  return q.is_string() ? q.as_string() : json::Serialize(q);
}

void ValidateResources(const json::Value& c, const std::string& path, std::vector<api::Cause>& causes) {
  const json::Value* req = c.Get({"resources", "requests"});
  const json::Value* lim = c.Get({"resources", "limits"});
  if (lim && lim->is_object()) {
    for (const auto& [name, q] : lim->as_object()) {
      int64_t milli = resource::MilliOf(&q);
      if (IsExtendedResource(name) && milli % 1000 != 0) {
        causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", QuantityText(q), "\": must be an integer"),
                          StrCat(path, ".resources.limits[", name, "]")});
      }
    }
  }
  if (req == nullptr || !req->is_object()) return;
  for (const auto& [name, q] : req->as_object()) {
    std::string field = StrCat(path, ".resources.requests[", name, "]");
    int64_t milli = resource::MilliOf(&q);
    if (IsExtendedResource(name) && milli % 1000 != 0) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", QuantityText(q), "\": must be an integer"), field});
    }
    const json::Value* limit = lim && lim->is_object() ? lim->Find(name) : nullptr;
    if (limit == nullptr) {
      if (IsOvercommitForbidden(name)) {
        causes.push_back({"FieldValueRequired", "Required value: Limit must be set for non overcommitable resources",
                          StrCat(path, ".resources.limits")});
      }
      continue;
    }
    int64_t limit_milli = resource::MilliOf(limit);
    if (IsOvercommitForbidden(name) && milli != limit_milli) {
      causes.push_back({"FieldValueInvalid",
                        StrCat("Invalid value: \"", QuantityText(q), "\": must be equal to ", name, " limit of ", QuantityText(*limit)),
                        field});
    } else if (milli > limit_milli) {
      causes.push_back({"FieldValueInvalid",
                        StrCat("Invalid value: \"", QuantityText(q), "\": must be less than or equal to ", name, " limit of ",
                               QuantityText(*limit)),
                        field});
    }
  }
}

}  // namespace

void DefaultPodRequests(json::Value& spec) {
  for (const char* list : {"containers", "initContainers"}) {
    json::Value* cs = spec.Find(list);
    if (cs == nullptr || !cs->is_array()) continue;
    for (json::Value& c : cs->as_array()) {
      const json::Value* lim = c.Get({"resources", "limits"});
      if (lim == nullptr || !lim->is_object() || lim->size() == 0) continue;
      json::Value limits = *lim;
      json::Value& resources = c["resources"];
      if (!resources.is_object()) continue;
      json::Value& requests = resources["requests"];
      if (requests.is_null()) requests = json::Value::MakeObject();
      if (!requests.is_object()) continue;
      for (const auto& [name, q] : limits.as_object()) {
        if (requests.Find(name) == nullptr) requests.Set(name, q);
      }
    }
  }
}

void DefaultPodSpec(json::Value& spec) {
  if (!spec.is_object()) return;
  SetIfAbsent(spec, "restartPolicy", "Always");
  SetIfAbsent(spec, "terminationGracePeriodSeconds", 30);
  SetIfAbsent(spec, "dnsPolicy", "ClusterFirst");
  SetIfAbsent(spec, "schedulerName", "default-scheduler");
  SetIfAbsent(spec, "securityContext", json::Value::MakeObject());
  SetIfAbsent(spec, "enableServiceLinks", true);
  for (const char* list : {"containers", "initContainers"}) {
    if (json::Value* cs = spec.Find(list); cs && cs->is_array()) {
      for (json::Value& c : cs->as_array()) DefaultContainer(c);
    }
  }
}

std::vector<api::Cause> ValidatePodSpec(const json::Value& spec, const std::string& path) {
  std::vector<api::Cause> causes;
  std::set<std::string> names;
  for (const char* list : {"initContainers", "containers"}) {
    const json::Value* cs = spec.Find(list);
    if (cs == nullptr || !cs->is_array()) continue;
    for (size_t i = 0; i < cs->as_array().size(); ++i) {
      std::string name = cs->as_array()[i].GetString({"name"});
      std::string field = StrCat(path, ".", list, "[", i, "].name");
      if (!IsDnsLabel(name)) {
        causes.push_back({"FieldValueInvalid",
                          StrCat("Invalid value: \"", name, "\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"),
                          field});
      } else if (!names.insert(name).second) {
        causes.push_back({"FieldValueDuplicate", StrCat("Duplicate value: \"", name, "\""), field});
      }
      ValidateResources(cs->as_array()[i], StrCat(path, ".", list, "[", i, "]"), causes);
    }
  }
  return causes;
}

std::string QosClass(const json::Value& spec) {
  bool any = false;
  bool guaranteed = true;
  const json::Value* cs = spec.Find("containers");
  if (cs == nullptr || !cs->is_array()) return "BestEffort";
  for (const json::Value& c : cs->as_array()) {
    const json::Value* req = c.Get({"resources", "requests"});
    const json::Value* lim = c.Get({"resources", "limits"});
    if ((req && req->size() > 0) || (lim && lim->size() > 0)) any = true;
    for (const char* r : {"cpu", "memory"}) {
      const json::Value* l = lim ? lim->Find(r) : nullptr;
      const json::Value* q = req ? req->Find(r) : nullptr;
      if (l == nullptr || (q != nullptr && !(*q == *l))) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

std::vector<api::Cause> ValidateSelectorMatchesTemplate(const json::Value& object) {
  std::vector<api::Cause> causes;
  const json::Value* sel = object.Get({"spec", "selector"});
  if (sel == nullptr || !sel->is_object()) {
    causes.push_back({"FieldValueRequired", "Required value", "spec.selector"});
    return causes;
  }
  auto parsed = selector::LabelSelector::FromObject(*sel);
  if (!parsed.ok()) {
    causes.push_back({"FieldValueInvalid", std::string(parsed.status().message()), "spec.selector"});
    return causes;
  }
  if (parsed->empty()) {
    causes.push_back({"FieldValueInvalid", "Invalid value: {}: empty selector is invalid for this kind", "spec.selector"});
    return causes;
  }
  const json::Value* labels = object.Get({"spec", "template", "metadata", "labels"});
  if (labels == nullptr || !parsed->Matches(*labels)) {
    causes.push_back({"FieldValueInvalid",
                      StrCat("Invalid value: ", labels ? "labels" : "null", ": `selector` does not match template `labels`"),
                      "spec.template.metadata.labels"});
  }
  return causes;
}

}  // namespace berth::apiserver::registry::kinds
