// File: controllers/builtin/endpointslice/slice_plan.cc
#include "controllers/builtin/endpointslice/slice_plan.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "controllers/builtin/common/pods.h"
#include "core/json/codec.h"

namespace berth::controllers::builtin {
namespace {

bool BoolOr(const json::Value* v, bool fallback) { return v != nullptr && v->is_bool() ? v->as_bool() : fallback; }

// targetPort resolved for one pod, as findPort does: a number as is, a name through the pod's
// container ports of that protocol. nullopt when the pod has no such port.
std::optional<int64_t> FindPort(const json::Value& pod, const json::Value& service_port) {
  const json::Value* target = service_port.Find("targetPort");
  if (target == nullptr) target = service_port.Find("port");
  if (target != nullptr && target->is_int()) return target->as_int();
  if (target == nullptr || !target->is_string()) return std::nullopt;
  std::string name = target->as_string();
  std::string protocol = service_port.GetString({"protocol"}, "TCP");
  for (const char* field : {"containers", "initContainers"}) {
    const json::Value* containers = pod.Get({"spec", field});
    if (containers == nullptr || !containers->is_array()) continue;
    for (const json::Value& c : containers->as_array()) {
      const json::Value* ports = c.Find("ports");
      if (ports == nullptr || !ports->is_array()) continue;
      for (const json::Value& p : ports->as_array()) {
        if (p.GetString({"name"}) == name && p.GetString({"protocol"}, "TCP") == protocol && p.Find("containerPort") &&
            p.Find("containerPort")->is_int()) {
          return p.Find("containerPort")->as_int();
        }
      }
    }
  }
  return std::nullopt;
}

std::string EndpointKey(const json::Value& endpoint) { return endpoint.GetString({"targetRef", "uid"}) + "/" + json::Serialize(*endpoint.Find("addresses")); }

json::Value SliceFor(const json::Value& service, const json::Value& ports, const std::string& trigger_time) {
  json::Value slice = json::Value::MakeObject();
  slice.Set("apiVersion", "discovery.k8s.io/v1");
  slice.Set("kind", "EndpointSlice");
  json::Value& meta = slice.Ensure({"metadata"});
  const std::string name = service.GetString({"metadata", "name"});
  meta.Set("generateName", name.size() > 57 ? name.substr(0, 57) + "-" : name + "-");
  meta.Set("namespace", service.GetString({"metadata", "namespace"}));
  json::Value labels = json::Value::MakeObject();
  if (const json::Value* own = service.Get({"metadata", "labels"}); own && own->is_object()) labels = *own;
  labels.Set(kServiceNameLabel, name);
  labels.Set(kManagedByLabel, kManagedBy);
  if (service.GetString({"spec", "clusterIP"}) == "None") labels.Set("service.kubernetes.io/headless", "");
  meta.Set("labels", std::move(labels));
  if (!trigger_time.empty()) meta.Ensure({"annotations"}).Set(kTriggerTimeAnnotation, trigger_time);
  json::Value owner = json::Value::MakeObject();
  owner.Set("apiVersion", "v1");
  owner.Set("kind", "Service");
  owner.Set("name", name);
  owner.Set("uid", service.GetString({"metadata", "uid"}));
  owner.Set("controller", true);
  owner.Set("blockOwnerDeletion", true);
  meta.Set("ownerReferences", json::Value(json::Array{std::move(owner)}));
  slice.Set("addressType", "IPv4");
  slice.Set("endpoints", json::Value::MakeArray());
  slice.Set("ports", ports);
  return slice;
}

// Labels, owner and annotation of an existing slice brought up to date: true if they changed.
bool RefreshMeta(json::Value& slice, const json::Value& service) {
  json::Value fresh = SliceFor(service, json::Value::MakeArray(), "");
  bool changed = false;
  json::Value& meta = slice.Ensure({"metadata"});
  for (const char* field : {"labels", "ownerReferences"}) {
    if (json::Serialize(meta[field]) != json::Serialize(*fresh.Get({"metadata", field}))) {
      meta.Set(field, *fresh.Get({"metadata", field}));
      changed = true;
    }
  }
  return changed;
}

}  // namespace

bool ServiceSelects(const json::Value& service, const json::Value& pod) {
  const json::Value* selector = service.Get({"spec", "selector"});
  if (selector == nullptr || !selector->is_object() || selector->size() == 0) return false;
  if (service.GetString({"metadata", "namespace"}) != pod.GetString({"metadata", "namespace"})) return false;
  const json::Value* labels = pod.Get({"metadata", "labels"});
  for (const auto& [k, v] : selector->as_object()) {
    const json::Value* have = labels && labels->is_object() ? labels->Find(k) : nullptr;
    if (have == nullptr || !have->is_string() || !v.is_string() || have->as_string() != v.as_string()) return false;
  }
  return true;
}

std::vector<DesiredEndpoint> DesiredEndpoints(const json::Value& service, const std::vector<const json::Value*>& pods) {
  std::vector<DesiredEndpoint> out;
  const bool publish_not_ready = BoolOr(service.Get({"spec", "publishNotReadyAddresses"}), false);
  const std::string name = service.GetString({"metadata", "name"});
  for (const json::Value* pod : pods) {
    if (!ServiceSelects(service, *pod)) continue;
    std::string ip = pod->GetString({"status", "podIP"});
    std::string phase = pod->GetString({"status", "phase"});
    if (ip.empty() || pod->GetString({"spec", "nodeName"}).empty() || phase == "Succeeded" || phase == "Failed") continue;
    DesiredEndpoint d;
    d.ports = json::Value::MakeArray();
    if (const json::Value* ports = service.Get({"spec", "ports"}); ports && ports->is_array()) {
      for (const json::Value& sp : ports->as_array()) {
        std::optional<int64_t> port = FindPort(*pod, sp);
        if (!port) continue;
        json::Value p = json::Value::MakeObject();
        p.Set("name", sp.GetString({"name"}));
        p.Set("protocol", sp.GetString({"protocol"}, "TCP"));
        p.Set("port", *port);
        if (sp.Find("appProtocol")) p.Set("appProtocol", *sp.Find("appProtocol"));
        d.ports.as_array().push_back(std::move(p));
      }
    }
    d.ports_key = json::Serialize(d.ports);
    const bool serving = IsPodReady(*pod);
    const bool terminating = pod->Get({"metadata", "deletionTimestamp"}) != nullptr;
    json::Value e = json::Value::MakeObject();
    e.Set("addresses", json::Value(json::Array{json::Value(ip)}));
    json::Value conditions = json::Value::MakeObject();
    conditions.Set("ready", publish_not_ready || (serving && !terminating));
    conditions.Set("serving", serving);
    conditions.Set("terminating", terminating);
    e.Set("conditions", std::move(conditions));
    std::string hostname = pod->GetString({"spec", "hostname"});
    if (!hostname.empty() && pod->GetString({"spec", "subdomain"}) == name) e.Set("hostname", hostname);
    e.Set("nodeName", pod->GetString({"spec", "nodeName"}));
    json::Value ref = json::Value::MakeObject();
    ref.Set("kind", "Pod");
    ref.Set("namespace", pod->GetString({"metadata", "namespace"}));
    ref.Set("name", pod->GetString({"metadata", "name"}));
    ref.Set("uid", pod->GetString({"metadata", "uid"}));
    e.Set("targetRef", std::move(ref));
    d.endpoint = std::move(e);
    out.push_back(std::move(d));
  }
  return out;
}

SlicePlan PlanSlices(const json::Value& service, const std::vector<DesiredEndpoint>& desired,
                     const std::vector<const json::Value*>& existing, const std::string& trigger_time) {
  SlicePlan plan;
  // Desired endpoints by port set, each keyed by pod and address.
  std::map<std::string, std::pair<json::Value, std::map<std::string, json::Value>>> groups;
  for (const DesiredEndpoint& d : desired) {
    auto& g = groups[d.ports_key];
    g.first = d.ports;
    g.second[EndpointKey(d.endpoint)] = d.endpoint;
  }
  // A Service with no endpoints keeps one empty slice, as Kubernetes' placeholder.
  if (groups.empty()) groups[json::Serialize(json::Value::MakeArray())] = {json::Value::MakeArray(), {}};

  std::map<std::string, std::vector<json::Value>> slices_by_group;  // kept slices, by ports key
  for (const json::Value* s : existing) {
    std::string key = json::Serialize(s->Find("ports") ? *s->Find("ports") : json::Value::MakeArray());
    if (s->Find("ports") == nullptr || s->Find("ports")->is_null()) key = json::Serialize(json::Value::MakeArray());
    if (!groups.count(key)) {
      plan.remove.push_back(s->GetString({"metadata", "name"}));
      continue;
    }
    slices_by_group[key].push_back(*s);
  }
  for (auto& [key, group] : groups) {
    auto& [ports, wanted] = group;
    std::vector<json::Value>& slices = slices_by_group[key];
    std::vector<bool> changed(slices.size(), false);
    // Keep endpoints where they are (with fresh conditions); drop the ones no longer wanted.
    for (size_t i = 0; i < slices.size(); ++i) {
      json::Value kept = json::Value::MakeArray();
      if (const json::Value* eps = slices[i].Find("endpoints"); eps && eps->is_array()) {
        for (const json::Value& e : eps->as_array()) {
          auto it = wanted.find(EndpointKey(e));
          if (it == wanted.end()) {
            changed[i] = true;
            continue;
          }
          if (json::Serialize(it->second) != json::Serialize(e)) changed[i] = true;
          kept.as_array().push_back(it->second);
          wanted.erase(it);
        }
      }
      slices[i].Set("endpoints", std::move(kept));
      if (RefreshMeta(slices[i], service)) changed[i] = true;
    }
    // New endpoints fill the slices with room, then new slices.
    for (auto& [k, e] : wanted) {
      bool placed = false;
      for (size_t i = 0; i < slices.size() && !placed; ++i) {
        if (slices[i]["endpoints"].as_array().size() < kMaxEndpointsPerSlice) {
          slices[i]["endpoints"].as_array().push_back(e);
          changed[i] = placed = true;
        }
      }
      if (!placed) {
        slices.push_back(SliceFor(service, ports, trigger_time));
        slices.back()["endpoints"].as_array().push_back(e);
        changed.push_back(true);
      }
    }
    if (slices.empty()) {
      slices.push_back(SliceFor(service, ports, trigger_time));
      changed.push_back(true);
    }
    for (size_t i = 0; i < slices.size(); ++i) {
      // Emptied slices go, unless the group would be left with none.
      bool empty = slices[i]["endpoints"].as_array().empty();
      bool others = std::any_of(slices.begin(), slices.end(), [&](const json::Value& s) {
        return &s != &slices[i] && !s.Find("endpoints")->as_array().empty();
      });
      std::string name = slices[i].GetString({"metadata", "name"});
      if (empty && others && !name.empty()) {
        plan.remove.push_back(name);
        continue;
      }
      if (!changed[i]) continue;
      if (!trigger_time.empty()) slices[i].Ensure({"metadata", "annotations"}).Set(kTriggerTimeAnnotation, trigger_time);
      if (name.empty()) plan.create.push_back(slices[i]);
      else plan.update.push_back(slices[i]);
    }
  }
  return plan;
}

}  // namespace berth::controllers::builtin
