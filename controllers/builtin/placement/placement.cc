#include "controllers/builtin/placement/placement.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "core/object/conditions.h"
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


PodRequests RequestsOf(const json::Value& pod) {
  PodRequests r;
  auto add = [&](const char* list, bool max_only) {
    const json::Value* cs = pod.Get({"spec", list});
    if (cs == nullptr || !cs->is_array()) return;
    for (const json::Value& c : cs->as_array()) {
      int64_t cpu = resource::MilliOf(c.Get({"resources", "requests", "cpu"}));
      int64_t mem = resource::MilliOf(c.Get({"resources", "requests", "memory"}));
      if (max_only) {
        r.cpu_milli = std::max(r.cpu_milli, cpu);
        r.memory_milli = std::max(r.memory_milli, mem);
      } else {
        r.cpu_milli += cpu;
        r.memory_milli += mem;
      }
      if (const json::Value* ports = c.Find("ports"); ports && ports->is_array()) {
        for (const json::Value& p : ports->as_array()) {
          const json::Value* hp = p.Find("hostPort");
          if (hp && hp->is_int() && hp->as_int() > 0) r.host_ports.insert(hp->as_int());
        }
      }
    }
  };
  add("containers", false);
  PodRequests init;
  std::swap(init, r);
  add("initContainers", true);  // init containers run one at a time: the largest counts
  r.cpu_milli = std::max(r.cpu_milli, init.cpu_milli);
  r.memory_milli = std::max(r.memory_milli, init.memory_milli);
  r.host_ports.insert(init.host_ports.begin(), init.host_ports.end());
  return r;
}

size_t NodesToFind(size_t total) {
  if (total <= 100) return total;
  int64_t pct = std::max<int64_t>(5, 50 - static_cast<int64_t>(total) / 125);
  return std::max<size_t>(100, total * static_cast<size_t>(pct) / 100);
}

std::string PlacementError(const json::Value& pod, const json::Value& node, const std::vector<std::string>& effects) {
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
  const json::Value* labels = node.Get({"metadata", "labels"});
  if (const json::Value* ns = pod.Get({"spec", "nodeSelector"}); ns && ns->is_object()) {
    for (const auto& [k, v] : ns->as_object()) {
      const json::Value* have = labels ? labels->Find(k) : nullptr;
      if (have == nullptr || !(*have == v)) return "node(s) didn't match Pod's node affinity/selector";
    }
  }
  if (const json::Value* terms = pod.Get({"spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                                          "nodeSelectorTerms"});
      terms && terms->is_array()) {
    bool any = false;
    for (const json::Value& term : terms->as_array()) any = any || MatchTerm(term, node);
    if (!any) return "node(s) didn't match Pod's node affinity/selector";
  }
  return "";
}

std::string FitError(const json::Value& pod, const PodRequests& req, const json::Value& node, int64_t used_cpu,
                     int64_t used_memory, int64_t used_pods, const std::multiset<int64_t>& used_ports) {
  const json::Value* ready = FindCondition(node, "Ready");
  if (ready == nullptr || ready->GetString({"status"}) != "True") return "node(s) were not ready";
  const json::Value* unsched = node.Get({"spec", "unschedulable"});
  if (unsched && unsched->is_bool() && unsched->as_bool()) {
    json::Value taint = json::Value::MakeObject();
    taint.Set("key", "node.kubernetes.io/unschedulable");
    taint.Set("effect", "NoSchedule");
    if (!Tolerates(pod, taint)) return "node(s) were unschedulable";
  }
  if (std::string why = PlacementError(pod, node); !why.empty()) return why;
  int64_t max_pods = Allocatable(node, "pods");
  if (max_pods > 0 && used_pods + 1000 > max_pods) return "Too many pods";
  if (req.cpu_milli > 0 && used_cpu + req.cpu_milli > Allocatable(node, "cpu")) return "Insufficient cpu";
  if (req.memory_milli > 0 && used_memory + req.memory_milli > Allocatable(node, "memory")) return "Insufficient memory";
  for (int64_t port : req.host_ports) {
    if (used_ports.count(port)) return "node(s) didn't have free ports for the requested pod ports";
  }
  return "";
}

double Score(const json::Value& pod, const PodRequests& req, const json::Value& node, int64_t used_cpu,
             int64_t used_memory) {
  double cap_cpu = static_cast<double>(std::max<int64_t>(Allocatable(node, "cpu"), 1));
  double cap_mem = static_cast<double>(std::max<int64_t>(Allocatable(node, "memory"), 1));
  double cpu_frac = (used_cpu + req.cpu_milli) / cap_cpu;
  double mem_frac = (used_memory + req.memory_milli) / cap_mem;
  double least_allocated = ((1 - cpu_frac) + (1 - mem_frac)) / 2 * 100;
  double balanced = (1 - std::abs(cpu_frac - mem_frac)) * 100;
  double preferred = 0;
  if (const json::Value* prefs = pod.Get({"spec", "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"});
      prefs && prefs->is_array()) {
    for (const json::Value& p : prefs->as_array()) {
      const json::Value* term = p.Find("preference");
      const json::Value* w = p.Find("weight");
      if (term && w && w->is_int() && MatchTerm(*term, node)) preferred += static_cast<double>(w->as_int());
    }
  }
  return least_allocated + balanced + preferred;
}

}  // namespace berth::controllers::builtin
