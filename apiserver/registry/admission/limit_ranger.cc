#include "apiserver/registry/admission/limit_ranger.h"

#include <cstdio>

#include "apiserver/registry/kinds/pod/pod_defaults.h"
#include "apiserver/registry/registry.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/resource/pod_resources.h"
#include "core/resource/quantity.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

bool IsPodCreate(const AdmissionAttributes& attrs) {
  return attrs.operation == AdmissionOperation::kCreate && attrs.type.group.empty() && attrs.type.plural == "pods";
}

// The LimitRange items of `type` in the pod's namespace.
absl::StatusOr<std::vector<json::Value>> Items(const Registry& registry, const std::string& ns, const std::string& type) {
  const ResourceType* ranges = registry.catalog().Find("", "v1", "limitranges");
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> items, registry.ListAll(*ranges, ns));
  std::vector<json::Value> out;
  for (const std::string& item : items) {
    BERTH_ASSIGN_OR_RETURN(json::Value range, json::Parse(item));
    if (const json::Value* limits = range.Get({"spec", "limits"}); limits && limits->is_array()) {
      for (const json::Value& l : limits->as_array()) {
        if (l.GetString({"type"}) == type) out.push_back(l);
      }
    }
  }
  return out;
}

std::string Text(const json::Value* q) { return q && q->is_string() ? q->as_string() : resource::FormatMilli(resource::MilliOf(q)); }

// min / max / ratio of one item against the requests and limits of a container (or a pod).
void Check(const json::Value& item, const char* kind, const resource::ResourceList& requests,
           const resource::ResourceList& limits, std::vector<std::string>& errors) {
  if (const json::Value* min = item.Find("min"); min && min->is_object()) {
    for (const auto& [name, q] : min->as_object()) {
      int64_t bound = resource::MilliOf(&q);
      auto r = requests.find(name);
      auto l = limits.find(name);
      if (r == requests.end()) {
        errors.push_back(StrCat("minimum ", name, " usage per ", kind, " is ", Text(&q), ".  No request is specified"));
      } else if (r->second < bound) {
        errors.push_back(StrCat("minimum ", name, " usage per ", kind, " is ", Text(&q), ", but request is ", resource::FormatMilli(r->second, Text(&q))));
      }
      if (l != limits.end() && l->second < bound) {
        errors.push_back(StrCat("minimum ", name, " usage per ", kind, " is ", Text(&q), ", but limit is ", resource::FormatMilli(l->second, Text(&q))));
      }
    }
  }
  if (const json::Value* max = item.Find("max"); max && max->is_object()) {
    for (const auto& [name, q] : max->as_object()) {
      int64_t bound = resource::MilliOf(&q);
      auto l = limits.find(name);
      if (l == limits.end()) {
        errors.push_back(StrCat("maximum ", name, " usage per ", kind, " is ", Text(&q), ".  No limit is specified"));
      } else if (l->second > bound) {
        errors.push_back(StrCat("maximum ", name, " usage per ", kind, " is ", Text(&q), ", but limit is ", resource::FormatMilli(l->second, Text(&q))));
      }
    }
  }
  if (const json::Value* ratio = item.Find("maxLimitRequestRatio"); ratio && ratio->is_object()) {
    for (const auto& [name, q] : ratio->as_object()) {
      auto r = requests.find(name);
      auto l = limits.find(name);
      if (l == limits.end()) {
        errors.push_back(StrCat(name, " max limit to request ratio per ", kind, " is ", Text(&q), ", but no limit is specified"));
        continue;
      }
      if (r == requests.end() || r->second == 0) {
        errors.push_back(StrCat(name, " max limit to request ratio per ", kind, " is ", Text(&q), ", but no request is specified or request is 0"));
        continue;
      }
      double actual = static_cast<double>(l->second) / static_cast<double>(r->second);
      if (actual * 1000 > static_cast<double>(resource::MilliOf(&q))) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%f", actual);
        errors.push_back(StrCat(name, " max limit to request ratio per ", kind, " is ", Text(&q), ", but provided ratio is ", buf));
      }
    }
  }
}

resource::ResourceList ListOf(const json::Value* list) {
  resource::ResourceList out;
  if (list && list->is_object()) {
    for (const auto& [name, q] : list->as_object()) out[name] = resource::MilliOf(&q);
  }
  return out;
}

class LimitRanger final : public AdmissionPlugin {
 public:
  absl::Status Mutate(const AdmissionAttributes& attrs, json::Value& object) const override {
    if (!IsPodCreate(attrs)) return absl::OkStatus();
    BERTH_ASSIGN_OR_RETURN(auto items, Items(attrs.registry, object.GetString({"metadata", "namespace"}), "Container"));
    if (items.empty()) return absl::OkStatus();
    std::vector<std::string> set;
    for (const char* list : {"initContainers", "containers"}) {
      json::Value* cs = object.Get({"spec", list}) ? &object["spec"][list] : nullptr;
      if (cs == nullptr || !cs->is_array()) continue;
      for (json::Value& c : cs->as_array()) {
        std::string cname = c.GetString({"name"});
        for (const json::Value& item : items) {
          for (const auto& [from, to, what] : {std::tuple<const char*, const char*, const char*>{"default", "limits", "limit"},
                                               {"defaultRequest", "requests", "request"}}) {
            const json::Value* defaults = item.Find(from);
            if (defaults == nullptr || !defaults->is_object()) continue;
            json::Value& resources = c["resources"];
            if (!resources.is_object()) resources = json::Value::MakeObject();
            json::Value& target = resources[to];
            if (!target.is_object()) target = json::Value::MakeObject();
            for (const auto& [name, q] : defaults->as_object()) {
              if (target.Find(name)) continue;
              target.Set(name, q);
              set.push_back(StrCat(name, " ", what, " for ", list == std::string("initContainers") ? "init container " : "container ", cname));
            }
          }
        }
      }
    }
    if (!set.empty()) {
      object.Ensure({"metadata", "annotations"}).Set("kubernetes.io/limit-ranger", "LimitRanger plugin set: " + Join(set, "; "));
      // The QoS class follows the resources the pod ends up with.
      if (const json::Value* spec = object.Find("spec")) object.Ensure({"status"}).Set("qosClass", kinds::QosClass(*spec));
    }
    return absl::OkStatus();
  }

  absl::Status Validate(const AdmissionAttributes& attrs, const json::Value& object) const override {
    if (!IsPodCreate(attrs)) return absl::OkStatus();
    std::string ns = object.GetString({"metadata", "namespace"});
    std::vector<std::string> errors;
    BERTH_ASSIGN_OR_RETURN(auto containers, Items(attrs.registry, ns, "Container"));
    for (const json::Value& item : containers) {
      for (const char* list : {"initContainers", "containers"}) {
        const json::Value* cs = object.Get({"spec", list});
        if (cs == nullptr || !cs->is_array()) continue;
        for (const json::Value& c : cs->as_array()) {
          Check(item, "Container", ListOf(c.Get({"resources", "requests"})), ListOf(c.Get({"resources", "limits"})), errors);
        }
      }
    }
    BERTH_ASSIGN_OR_RETURN(auto pods, Items(attrs.registry, ns, "Pod"));
    for (const json::Value& item : pods) Check(item, "Pod", resource::PodRequests(object), resource::PodLimits(object), errors);
    if (errors.empty()) return absl::OkStatus();
    api::Target target = attrs.type.Target(object.GetString({"metadata", "name"}));
    target.kind.clear();
    return api::Forbidden(target, errors.size() == 1 ? errors[0] : "[" + Join(errors, ", ") + "]");
  }
};

}  // namespace

std::shared_ptr<const AdmissionPlugin> LimitRangerAdmission() { return std::make_shared<LimitRanger>(); }

}  // namespace berth::apiserver::registry
