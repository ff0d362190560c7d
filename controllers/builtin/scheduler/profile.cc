#include "controllers/builtin/scheduler/profile.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/strings/strings.h"

namespace berth::controllers::builtin {

namespace {

constexpr const char* kInterPodAffinity = "InterPodAffinity";
constexpr const char* kPodTopologySpread = "PodTopologySpread";
constexpr const char* kTaintToleration = "TaintToleration";

// The plugins the scheduler scores itself: a profile sets their weights, nothing else.
bool ScoredByScheduler(const std::string& plugin) {
  return plugin == kInterPodAffinity || plugin == kPodTopologySpread || plugin == kTaintToleration;
}
int64_t* ScoredBySchedulerWeight(SchedulerProfile& p, const std::string& plugin) {
  if (plugin == kInterPodAffinity) return &p.inter_pod_affinity_weight;
  if (plugin == kPodTopologySpread) return &p.topology_spread_weight;
  if (plugin == kTaintToleration) return &p.taint_toleration_weight;
  return nullptr;
}

// name -> default weight, in upstream's order.
const std::vector<std::pair<std::string, int64_t>>& DefaultScorePlugins() {
  static const auto* d = new std::vector<std::pair<std::string, int64_t>>{
      {kTaintToleration, 3}, {"NodeResourcesFit", 1}, {"NodeResourcesBalancedAllocation", 1}, {"NodeAffinity", 2},
      {kInterPodAffinity, 2}, {kPodTopologySpread, 2}};
  return *d;
}

absl::Status Unsupported(const std::string& path, const json::Value& object, const std::set<std::string>& allowed) {
  if (!object.is_object()) return absl::InvalidArgumentError(StrCat(path.empty() ? "configuration" : path, ": must be an object"));
  for (const auto& [k, v] : object.as_object()) {
    if (!allowed.count(k)) {
      return absl::InvalidArgumentError(StrCat(path.empty() ? "" : path + ".", k, ": not supported by Berth's scheduler"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SchedulerProfile> Build(const std::string& name, const std::vector<std::pair<std::string, int64_t>>& plugins,
                                       const std::map<std::string, const json::Value*>& args, const std::string& path) {
  SchedulerProfile p;
  p.scheduler_name = name;
  p.inter_pod_affinity_weight = 0;
  p.topology_spread_weight = 0;
  p.taint_toleration_weight = 0;
  for (const auto& [plugin, weight] : plugins) {
    auto a = args.find(plugin);
    if (int64_t* own = ScoredBySchedulerWeight(p, plugin)) {
      if (a != args.end()) return absl::InvalidArgumentError(StrCat(path, ".pluginConfig[", plugin, "]: args not supported"));
      *own = weight;
      continue;
    }
    auto made = MakeScorePlugin(plugin, a == args.end() ? nullptr : a->second);
    if (!made.ok()) return absl::InvalidArgumentError(StrCat(path, " ", plugin, ": ", made.status().message()));
    p.score.push_back({std::shared_ptr<const ScorePlugin>(std::move(*made)), weight});
  }
  return p;
}

}  // namespace

double SchedulerProfile::Score(const ScoreInput& in) const {
  double total = 0;
  for (const Weighted& w : score) {
    if (!w.plugin->Normalized()) total += w.plugin->Score(in) * static_cast<double>(w.weight);
  }
  return total;
}

std::vector<const SchedulerProfile::Weighted*> SchedulerProfile::NormalizedFor(const json::Value& pod) const {
  std::vector<const Weighted*> out;
  for (const Weighted& w : score) {
    if (w.plugin->Normalized() && w.plugin->ScoresPod(pod)) out.push_back(&w);
  }
  return out;
}

std::vector<double> NormalizedTotals(const std::vector<const SchedulerProfile::Weighted*>& plugins,
                                     const std::vector<std::vector<double>>& raw) {
  std::vector<double> totals(raw.size(), 0);
  for (size_t p = 0; p < plugins.size(); ++p) {
    double best = 0;
    for (const auto& node : raw) best = std::max(best, node[p]);
    if (best <= 0) continue;  // every node 0: upstream leaves them all at 0
    for (size_t i = 0; i < raw.size(); ++i) {
      totals[i] += raw[i][p] * 100 / best * static_cast<double>(plugins[p]->weight);
    }
  }
  return totals;
}

SchedulerProfile DefaultProfile(const std::string& scheduler_name) {
  auto p = Build(scheduler_name, DefaultScorePlugins(), {}, "default");
  return *p;  // the built-ins always build
}

absl::StatusOr<std::vector<SchedulerProfile>> ParseSchedulerConfiguration(const json::Value& config) {
  if (auto s = Unsupported("", config, {"apiVersion", "kind", "profiles"}); !s.ok()) return s;
  if (std::string v = config.GetString({"apiVersion"}); v != "kubescheduler.config.k8s.io/v1") {
    return absl::InvalidArgumentError(StrCat("apiVersion: must be kubescheduler.config.k8s.io/v1, not \"", v, "\""));
  }
  if (std::string k = config.GetString({"kind"}); k != "KubeSchedulerConfiguration") {
    return absl::InvalidArgumentError(StrCat("kind: must be KubeSchedulerConfiguration, not \"", k, "\""));
  }
  std::vector<SchedulerProfile> out;
  const json::Value* profiles = config.Find("profiles");
  if (profiles == nullptr) {
    out.push_back(DefaultProfile());
    return out;
  }
  if (!profiles->is_array() || profiles->size() == 0) return absl::InvalidArgumentError("profiles: must be a non-empty list");
  std::set<std::string> names;
  for (size_t i = 0; i < profiles->size(); ++i) {
    const json::Value& prof = profiles->as_array()[i];
    std::string path = StrCat("profiles[", i, "]");
    if (auto s = Unsupported(path, prof, {"schedulerName", "plugins", "pluginConfig"}); !s.ok()) return s;
    std::string name = prof.GetString({"schedulerName"}, "default-scheduler");
    if (!names.insert(name).second) return absl::InvalidArgumentError(StrCat(path, ".schedulerName: duplicate \"", name, "\""));
    std::vector<std::pair<std::string, int64_t>> plugins = DefaultScorePlugins();
    if (const json::Value* p = prof.Find("plugins")) {
      if (auto s = Unsupported(path + ".plugins", *p, {"score"}); !s.ok()) return s;
      if (const json::Value* score = p->Find("score")) {
        if (auto s = Unsupported(path + ".plugins.score", *score, {"enabled", "disabled"}); !s.ok()) return s;
        auto names_in = [&](const char* list, auto fn) -> absl::Status {
          const json::Value* l = score->Find(list);
          if (l == nullptr) return absl::OkStatus();
          if (!l->is_array()) return absl::InvalidArgumentError(StrCat(path, ".plugins.score.", list, ": must be a list"));
          for (size_t j = 0; j < l->size(); ++j) {
            const json::Value& e = l->as_array()[j];
            std::string field = StrCat(path, ".plugins.score.", list, "[", j, "]");
            if (auto s = Unsupported(field, e, {"name", "weight"}); !s.ok()) return s;
            if (absl::Status s = fn(e, field); !s.ok()) return s;
          }
          return absl::OkStatus();
        };
        absl::Status s = names_in("disabled", [&](const json::Value& e, const std::string& field) -> absl::Status {
          std::string n = e.GetString({"name"});
          if (n == "*") {
            plugins.clear();
          } else {
            std::erase_if(plugins, [&](const auto& pw) { return pw.first == n; });
            if (n.empty()) return absl::InvalidArgumentError(StrCat(field, ".name: required"));
          }
          return absl::OkStatus();
        });
        if (!s.ok()) return s;
        s = names_in("enabled", [&](const json::Value& e, const std::string& field) -> absl::Status {
          std::string n = e.GetString({"name"});
          if (!ScoredByScheduler(n) && !KnownScorePlugin(n)) {
            return absl::InvalidArgumentError(StrCat(field, ".name: unknown score plugin \"", n, "\""));
          }
          int64_t weight = 1;
          for (const auto& [dn, dw] : DefaultScorePlugins()) {
            if (dn == n) weight = dw;
          }
          if (const json::Value* w = e.Find("weight")) {
            if (!w->is_int() || w->as_int() < 1 || w->as_int() > 100) {
              return absl::InvalidArgumentError(StrCat(field, ".weight: must be an integer from 1 to 100"));
            }
            weight = w->as_int();
          }
          std::erase_if(plugins, [&](const auto& pw) { return pw.first == n; });
          plugins.emplace_back(n, weight);
          return absl::OkStatus();
        });
        if (!s.ok()) return s;
      }
    }
    std::map<std::string, const json::Value*> args;
    if (const json::Value* pc = prof.Find("pluginConfig")) {
      if (!pc->is_array()) return absl::InvalidArgumentError(StrCat(path, ".pluginConfig: must be a list"));
      for (size_t j = 0; j < pc->size(); ++j) {
        const json::Value& e = pc->as_array()[j];
        std::string field = StrCat(path, ".pluginConfig[", j, "]");
        if (auto s = Unsupported(field, e, {"name", "args"}); !s.ok()) return s;
        std::string n = e.GetString({"name"});
        bool scoring = false;
        for (const auto& [pn, pw] : plugins) scoring = scoring || pn == n;
        if (!scoring) return absl::InvalidArgumentError(StrCat(field, ".name: \"", n, "\" is not a score plugin of this profile"));
        args[n] = e.Find("args");
      }
    }
    auto built = Build(name, plugins, args, path);
    if (!built.ok()) return built.status();
    out.push_back(std::move(*built));
  }
  return out;
}

}  // namespace berth::controllers::builtin
