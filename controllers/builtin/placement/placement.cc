#include "controllers/builtin/placement/placement.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "core/object/conditions.h"
#include "core/resource/pod_resources.h"
#include "core/resource/quantity.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

using object::FindCondition;

namespace {

bool Tolerates(const json::Value& pod, const json::Value& taint) {
  const json::Value* tols = pod.Get({"spec", "tolerations"});
  if (tols == nullptr || !tols->is_array()) return false;
  std::string key = taint.GetString({"key"});
  std::string value = taint.GetString({"value"});
  std::string effect = taint.GetString({"effect"});
  for (const json::Value& t : tols->as_array()) {
    std::string te = t.GetString({"effect"});
    if (!te.empty() && te != effect) continue;
    std::string tk = t.GetString({"key"});
    std::string op = t.GetString({"operator"}, "Equal");
    if (op == "Exists") {
      if (tk.empty() || tk == key) return true;
    } else if (tk == key && t.GetString({"value"}) == value) {
      return true;
    }
  }
  return false;
}

bool MatchExpression(const json::Value& expr, const json::Value& labels, const std::string& node_name, bool field) {
  std::string key = expr.GetString({"key"});
  std::string op = expr.GetString({"operator"});
  std::string have;
  bool present;
  if (field) {
    present = key == "metadata.name";
    have = node_name;
  } else {
    const json::Value* v = labels.Find(key);
    present = v && v->is_string();
    have = present ? v->as_string() : "";
  }
  std::vector<std::string> values;
  if (const json::Value* vs = expr.Find("values"); vs && vs->is_array()) {
    for (const json::Value& v : vs->as_array()) values.push_back(v.is_string() ? v.as_string() : "");
  }
  bool in = std::find(values.begin(), values.end(), have) != values.end();
  if (op == "In") return present && in;
  if (op == "NotIn") return !present || !in;
  if (op == "Exists") return present;
  if (op == "DoesNotExist") return !present;
  if ((op == "Gt" || op == "Lt") && present && !values.empty()) {
    int64_t a = 0, b = 0;
    if (!absl::SimpleAtoi(have, &a) || !absl::SimpleAtoi(values[0], &b)) return false;
    return op == "Gt" ? a > b : a < b;
  }
  return false;
}

bool MatchTerm(const json::Value& term, const json::Value& node) {
  const json::Value* labels = node.Get({"metadata", "labels"});
  json::Value empty = json::Value::MakeObject();
  const json::Value& l = labels ? *labels : empty;
  std::string name = node.GetString({"metadata", "name"});
  bool any = false;
  for (const char* kind : {"matchExpressions", "matchFields"}) {
    const json::Value* exprs = term.Find(kind);
    if (exprs == nullptr || !exprs->is_array()) continue;
    for (const json::Value& e : exprs->as_array()) {
      any = true;
      if (!MatchExpression(e, l, name, std::string(kind) == "matchFields")) return false;
    }
  }
  return any;  // an empty term matches nothing
}

}  // namespace

int64_t Allocatable(const json::Value& node, const char* resource) {
  const json::Value* a = node.Get({"status", "allocatable", resource});
  if (a == nullptr) a = node.Get({"status", "capacity", resource});
  return resource::MilliOf(a);
}


namespace {

void AddTo(PodRequests& r, const std::string& name, int64_t milli) {
  if (name == "cpu") {
    r.cpu_milli += milli;
  } else if (name == "memory") {
    r.memory_milli += milli;
  } else if (name != "pods" && milli != 0) {
    r.scalar[name] += milli;
  }
}

void CollectPorts(const json::Value& c, std::set<int64_t>& ports) {
  if (const json::Value* ps = c.Find("ports"); ps && ps->is_array()) {
    for (const json::Value& p : ps->as_array()) {
      const json::Value* hp = p.Find("hostPort");
      if (hp && hp->is_int() && hp->as_int() > 0) ports.insert(hp->as_int());
    }
  }
}

}  // namespace

PodRequests RequestsOf(const json::Value& pod) {
  PodRequests r;
  for (const auto& [name, milli] : resource::PodRequests(pod)) AddTo(r, name, milli);
  for (const char* list : {"containers", "initContainers"}) {
    if (const json::Value* cs = pod.Get({"spec", list}); cs && cs->is_array()) {
      for (const json::Value& c : cs->as_array()) CollectPorts(c, r.host_ports);
    }
  }
  return r;
}

NodeAllocatable NodeAllocatable::Of(const json::Value& node) {
  NodeAllocatable a;
  const json::Value* list = node.Get({"status", "allocatable"});
  if (list == nullptr || !list->is_object()) list = node.Get({"status", "capacity"});
  if (list == nullptr || !list->is_object()) return a;
  for (const auto& [name, q] : list->as_object()) {
    int64_t milli = resource::MilliOf(&q);
    if (name == "cpu") {
      a.cpu = milli;
    } else if (name == "memory") {
      a.memory = milli;
    } else if (name == "pods") {
      a.pods = milli;
    } else {
      a.scalar[name] = milli;
    }
  }
  return a;
}

void NodeUsage::Add(const PodRequests& r) {
  cpu += r.cpu_milli;
  memory += r.memory_milli;
  pods += 1000;
  for (const auto& [name, milli] : r.scalar) scalar[name] += milli;
  ports.insert(r.host_ports.begin(), r.host_ports.end());
}

void NodeUsage::Remove(const PodRequests& r) {
  cpu -= r.cpu_milli;
  memory -= r.memory_milli;
  pods -= 1000;
  for (const auto& [name, milli] : r.scalar) {
    if (auto it = scalar.find(name); it != scalar.end() && (it->second -= milli) == 0) scalar.erase(it);
  }
  for (int64_t port : r.host_ports) {
    if (auto p = ports.find(port); p != ports.end()) ports.erase(p);
  }
}

std::vector<std::string> ResourceFitReasons(const PodRequests& req, const NodeAllocatable& node, const NodeUsage& used) {
  for (int64_t port : req.host_ports) {
    if (used.ports.count(port)) return {"node(s) didn't have free ports for the requested pod ports"};
  }
  // Runs for every node a scan visits: cpu and memory are read in place rather than listed with
  // the scalars (a vector and two strings per node), and nothing is allocated when the pod fits.
  std::vector<std::string> reasons;
  if (node.pods > 0 && used.pods + 1000 > node.pods) reasons.push_back("Too many pods");
  if (req.cpu_milli > 0 && used.cpu + req.cpu_milli > node.cpu) reasons.push_back("Insufficient cpu");
  if (req.memory_milli > 0 && used.memory + req.memory_milli > node.memory) reasons.push_back("Insufficient memory");
  for (const auto& [name, milli] : req.scalar) {
    if (milli <= 0) continue;
    auto a = node.scalar.find(name);
    int64_t have = a == node.scalar.end() ? 0 : a->second;
    auto u = used.scalar.find(name);
    int64_t in_use = u == used.scalar.end() ? 0 : u->second;
    if (in_use + milli > have) reasons.push_back("Insufficient " + name);
  }
  return reasons;
}

std::string NoNodesAvailableMessage(size_t nodes, const std::map<std::string, int>& reasons) {
  std::vector<std::string> parts;
  for (const auto& [why, count] : reasons) parts.push_back(StrCat(count, " ", why));
  std::sort(parts.begin(), parts.end());
  std::string message = StrCat("0/", nodes, " nodes are available");
  for (size_t i = 0; i < parts.size(); ++i) message += StrCat(i == 0 ? ": " : ", ", parts[i]);
  return message + ".";
}

size_t NodesToFind(size_t total) {
  if (total <= 100) return total;
  int64_t pct = std::max<int64_t>(5, 50 - static_cast<int64_t>(total) / 125);
  return std::max<size_t>(100, total * static_cast<size_t>(pct) / 100);
}

std::string UntoleratedTaint(const json::Value& pod, const json::Value& node, const std::vector<std::string>& effects) {
  if (const json::Value* taints = node.Get({"spec", "taints"}); taints && taints->is_array()) {
    for (const json::Value& t : taints->as_array()) {
      std::string effect = t.GetString({"effect"});
      if (std::find(effects.begin(), effects.end(), effect) == effects.end()) continue;
      if (!Tolerates(pod, t)) {
        return StrCat("node(s) had untolerated taint {", t.GetString({"key"}),
                      t.GetString({"value"}).empty() ? "" : ": " + t.GetString({"value"}), "}");
      }
    }
  }
  return "";
}

int64_t IntolerablePreferNoScheduleTaints(const json::Value& pod, const json::Value& node) {
  int64_t count = 0;
  if (const json::Value* taints = node.Get({"spec", "taints"}); taints && taints->is_array()) {
    for (const json::Value& t : taints->as_array()) {
      if (t.GetString({"effect"}) == "PreferNoSchedule" && !Tolerates(pod, t)) ++count;
    }
  }
  return count;
}

bool MatchesNodeSelectorAndAffinity(const json::Value& pod, const json::Value& node) {
  const json::Value* labels = node.Get({"metadata", "labels"});
  if (const json::Value* ns = pod.Get({"spec", "nodeSelector"}); ns && ns->is_object()) {
    for (const auto& [k, v] : ns->as_object()) {
      const json::Value* have = labels ? labels->Find(k) : nullptr;
      if (have == nullptr || !(*have == v)) return false;
    }
  }
  if (const json::Value* terms = pod.Get({"spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                                          "nodeSelectorTerms"});
      terms && terms->is_array()) {
    bool any = false;
    for (const json::Value& term : terms->as_array()) any = any || MatchTerm(term, node);
    if (!any) return false;
  }
  return true;
}

std::string PlacementError(const json::Value& pod, const json::Value& node, const std::vector<std::string>& effects) {
  if (std::string taint = UntoleratedTaint(pod, node, effects); !taint.empty()) return taint;
  if (!MatchesNodeSelectorAndAffinity(pod, node)) return "node(s) didn't match Pod's node affinity/selector";
  return "";
}

std::vector<std::string> FitReasons(const json::Value& pod, const PodRequests& req, const json::Value& node,
                                    const NodeUsage& used) {
  const json::Value* ready = FindCondition(node, "Ready");
  if (ready == nullptr || ready->GetString({"status"}) != "True") return {"node(s) were not ready"};
  const json::Value* unsched = node.Get({"spec", "unschedulable"});
  if (unsched && unsched->is_bool() && unsched->as_bool()) {
    json::Value taint = json::Value::MakeObject();
    taint.Set("key", "node.kubernetes.io/unschedulable");
    taint.Set("effect", "NoSchedule");
    if (!Tolerates(pod, taint)) return {"node(s) were unschedulable"};
  }
  if (std::string why = PlacementError(pod, node); !why.empty()) return {why};
  return ResourceFitReasons(req, NodeAllocatable::Of(node), used);
}

double PreferredNodeAffinity(const json::Value& pod, const json::Value& node) {
  double preferred = 0;
  if (const json::Value* prefs = pod.Get({"spec", "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"});
      prefs && prefs->is_array()) {
    for (const json::Value& p : prefs->as_array()) {
      const json::Value* term = p.Find("preference");
      const json::Value* w = p.Find("weight");
      if (term && w && w->is_int() && MatchTerm(*term, node)) preferred += static_cast<double>(w->as_int());
    }
  }
  return preferred;
}

}  // namespace berth::controllers::builtin
