#include "controllers/builtin/scheduler/score_plugins.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "core/strings/strings.h"

namespace berth::controllers::builtin {

namespace {

// A resource's allocatable and requested-after-placing, milli.
struct Amounts {
  int64_t allocatable = 0;
  int64_t requested = 0;
};

struct WeightedResource {
  std::string name;
  int64_t weight = 1;
  enum class Kind { kCpu, kMemory, kOther } kind = Kind::kOther;  // resolved once, not per node
};

Amounts AmountsOf(const ScoreInput& in, const WeightedResource& r) {
  Amounts a;
  const std::string& resource = r.name;
  if (r.kind == WeightedResource::Kind::kCpu) {
    a.allocatable = in.allocatable.cpu, a.requested = in.used.cpu + in.requests.cpu_milli;
  } else if (r.kind == WeightedResource::Kind::kMemory) {
    a.allocatable = in.allocatable.memory, a.requested = in.used.memory + in.requests.memory_milli;
  } else {
    auto al = in.allocatable.scalar.find(resource);
    auto us = in.used.scalar.find(resource);
    auto rq = in.requests.scalar.find(resource);
    a.allocatable = al == in.allocatable.scalar.end() ? 0 : al->second;
    a.requested = (us == in.used.scalar.end() ? 0 : us->second) + (rq == in.requests.scalar.end() ? 0 : rq->second);
  }
  return a;
}

absl::StatusOr<std::vector<WeightedResource>> ResourcesOf(const json::Value* list, const std::string& field) {
  std::vector<WeightedResource> out;
  if (list == nullptr) {
    return std::vector<WeightedResource>{{"cpu", 1, WeightedResource::Kind::kCpu}, {"memory", 1, WeightedResource::Kind::kMemory}};
  }
  if (!list->is_array()) return absl::InvalidArgumentError(StrCat(field, ": must be a list"));
  for (size_t i = 0; i < list->size(); ++i) {
    const json::Value& r = list->as_array()[i];
    WeightedResource w;
    w.name = r.GetString({"name"});
    if (w.name.empty()) return absl::InvalidArgumentError(StrCat(field, "[", i, "].name: required"));
    if (const json::Value* weight = r.Find("weight")) {
      if (!weight->is_int() || weight->as_int() < 1 || weight->as_int() > 100) {
        return absl::InvalidArgumentError(StrCat(field, "[", i, "].weight: must be an integer from 1 to 100"));
      }
      w.weight = weight->as_int();
    }
    w.kind = w.name == "cpu" ? WeightedResource::Kind::kCpu : w.name == "memory" ? WeightedResource::Kind::kMemory
                                                                                  : WeightedResource::Kind::kOther;
    out.push_back(std::move(w));
  }
  return out;
}

// Weighted mean of `per_resource` over the resources the node has (a template: it runs for
// every sampled node of every attempt).
template <typename PerResource>
double WeightedMean(const ScoreInput& in, const std::vector<WeightedResource>& resources, const PerResource& per_resource) {
  double sum = 0, weights = 0;
  for (const WeightedResource& r : resources) {
    Amounts a = AmountsOf(in, r);
    if (a.allocatable <= 0) continue;
    sum += per_resource(a) * static_cast<double>(r.weight);
    weights += static_cast<double>(r.weight);
  }
  return weights > 0 ? sum / weights : 0;
}

class NodeResourcesFit final : public ScorePlugin {
 public:
  enum class Strategy { kLeastAllocated, kMostAllocated, kRequestedToCapacityRatio };
  struct Point {
    double utilization, score;
  };
  NodeResourcesFit(Strategy s, std::vector<WeightedResource> r, std::vector<Point> shape)
      : strategy_(s), resources_(std::move(r)), shape_(std::move(shape)) {}
  std::string_view name() const override { return "NodeResourcesFit"; }
  bool ResourcesOnly() const override { return true; }
  double Score(const ScoreInput& in) const override {
    return WeightedMean(in, resources_, [&](const Amounts& a) {
      double used = std::min(1.0, static_cast<double>(a.requested) / static_cast<double>(a.allocatable));
      switch (strategy_) {
        case Strategy::kLeastAllocated:
          return (1 - used) * 100;
        case Strategy::kMostAllocated:
          return used * 100;
        case Strategy::kRequestedToCapacityRatio:
          return Shape(used * 100) * 10;  // shape scores are 0..10
      }
      return 0.0;
    });
  }

 private:
  double Shape(double utilization) const {
    if (utilization <= shape_.front().utilization) return shape_.front().score;
    for (size_t i = 1; i < shape_.size(); ++i) {
      if (utilization <= shape_[i].utilization) {
        const Point& a = shape_[i - 1];
        const Point& b = shape_[i];
        return a.score + (b.score - a.score) * (utilization - a.utilization) / (b.utilization - a.utilization);
      }
    }
    return shape_.back().score;
  }
  Strategy strategy_;
  std::vector<WeightedResource> resources_;
  std::vector<Point> shape_;
};

absl::StatusOr<std::unique_ptr<ScorePlugin>> MakeNodeResourcesFit(const json::Value* args) {
  const json::Value* strategy = args ? args->Find("scoringStrategy") : nullptr;
  if (args) {
    for (const auto& [k, v] : args->as_object()) {
      if (k != "scoringStrategy") return absl::InvalidArgumentError(StrCat(k, ": not supported (only scoringStrategy)"));
    }
  }
  std::string type = strategy ? strategy->GetString({"type"}, "LeastAllocated") : "LeastAllocated";
  NodeResourcesFit::Strategy s;
  if (type == "LeastAllocated") {
    s = NodeResourcesFit::Strategy::kLeastAllocated;
  } else if (type == "MostAllocated") {
    s = NodeResourcesFit::Strategy::kMostAllocated;
  } else if (type == "RequestedToCapacityRatio") {
    s = NodeResourcesFit::Strategy::kRequestedToCapacityRatio;
  } else {
    return absl::InvalidArgumentError(
        StrCat("scoringStrategy.type: unsupported value \"", type, "\": LeastAllocated, MostAllocated or RequestedToCapacityRatio"));
  }
  auto resources = ResourcesOf(strategy ? strategy->Find("resources") : nullptr, "scoringStrategy.resources");
  if (!resources.ok()) return resources.status();
  std::vector<NodeResourcesFit::Point> shape;
  if (s == NodeResourcesFit::Strategy::kRequestedToCapacityRatio) {
    const json::Value* points = strategy ? strategy->Get({"requestedToCapacityRatio", "shape"}) : nullptr;
    if (points == nullptr || !points->is_array() || points->size() == 0) {
      return absl::InvalidArgumentError("scoringStrategy.requestedToCapacityRatio.shape: required");
    }
    for (size_t i = 0; i < points->size(); ++i) {
      const json::Value& p = points->as_array()[i];
      const json::Value* u = p.Find("utilization");
      const json::Value* sc = p.Find("score");
      std::string field = StrCat("scoringStrategy.requestedToCapacityRatio.shape[", i, "]");
      if (!u || !u->is_int() || u->as_int() < 0 || u->as_int() > 100) {
        return absl::InvalidArgumentError(StrCat(field, ".utilization: must be an integer from 0 to 100"));
      }
      if (!sc || !sc->is_int() || sc->as_int() < 0 || sc->as_int() > 10) {
        return absl::InvalidArgumentError(StrCat(field, ".score: must be an integer from 0 to 10"));
      }
      if (!shape.empty() && static_cast<double>(u->as_int()) <= shape.back().utilization) {
        return absl::InvalidArgumentError(StrCat(field, ".utilization: must be increasing"));
      }
      shape.push_back({static_cast<double>(u->as_int()), static_cast<double>(sc->as_int())});
    }
  }
  return std::unique_ptr<ScorePlugin>(std::make_unique<NodeResourcesFit>(s, std::move(*resources), std::move(shape)));
}

// Upstream's balanced allocation: 1 minus the standard deviation of the requested fractions.
class BalancedAllocation final : public ScorePlugin {
 public:
  explicit BalancedAllocation(std::vector<WeightedResource> r) : resources_(std::move(r)) {}
  std::string_view name() const override { return "NodeResourcesBalancedAllocation"; }
  bool ResourcesOnly() const override { return true; }
  double Score(const ScoreInput& in) const override {
    double fractions_buffer[8];
    std::vector<double> spill;
    size_t count = 0;
    auto push = [&](double f) {
      if (count < 8) fractions_buffer[count] = f; else spill.push_back(f);
      ++count;
    };
    for (const WeightedResource& r : resources_) {
      Amounts a = AmountsOf(in, r);
      if (a.allocatable > 0) push(std::min(1.0, static_cast<double>(a.requested) / static_cast<double>(a.allocatable)));
    }
    if (count < 2) return 100;
    auto at = [&](size_t i) { return i < 8 ? fractions_buffer[i] : spill[i - 8]; };
    double mean = 0;
    for (size_t i = 0; i < count; ++i) mean += at(i);
    mean /= static_cast<double>(count);
    double variance = 0;
    for (size_t i = 0; i < count; ++i) variance += (at(i) - mean) * (at(i) - mean);
    variance /= static_cast<double>(count);
    return (1 - std::sqrt(variance)) * 100;
  }

 private:
  std::vector<WeightedResource> resources_;
};

// Preferred node affinity: the sum of the weights of the terms the node matches, scaled over
// the feasible nodes by the scheduler (the best match scores 100), as upstream normalizes it.
class NodeAffinityScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "NodeAffinity"; }
  double Score(const ScoreInput& in) const override { return PreferredNodeAffinity(in.pod, in.node); }
  bool Normalized() const override { return true; }
  bool ScoresPod(const json::Value& pod) const override {
    const json::Value* prefs = pod.Get({"spec", "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"});
    return prefs != nullptr && prefs->is_array() && prefs->size() > 0;
  }
};

struct Registry {
  std::mutex mu;
  std::map<std::string, ScorePluginFactory> factories;
};

Registry& Plugins() {
  static Registry* r = [] {
    auto* reg = new Registry;
    reg->factories["NodeResourcesFit"] = MakeNodeResourcesFit;
    reg->factories["NodeResourcesBalancedAllocation"] = [](const json::Value* args) -> absl::StatusOr<std::unique_ptr<ScorePlugin>> {
      if (args) {
        for (const auto& [k, v] : args->as_object()) {
          if (k != "resources") return absl::InvalidArgumentError(StrCat(k, ": not supported (only resources)"));
        }
      }
      auto resources = ResourcesOf(args ? args->Find("resources") : nullptr, "resources");
      if (!resources.ok()) return resources.status();
      return std::unique_ptr<ScorePlugin>(std::make_unique<BalancedAllocation>(std::move(*resources)));
    };
    reg->factories["NodeAffinity"] = [](const json::Value* args) -> absl::StatusOr<std::unique_ptr<ScorePlugin>> {
      if (args && args->size() > 0) return absl::InvalidArgumentError("NodeAffinity takes no args in Berth");
      return std::unique_ptr<ScorePlugin>(std::make_unique<NodeAffinityScore>());
    };
    return reg;
  }();
  return *r;
}

}  // namespace

bool RegisterScorePlugin(const std::string& name, ScorePluginFactory factory) {
  Registry& r = Plugins();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.factories.emplace(name, std::move(factory)).second;
}

bool KnownScorePlugin(const std::string& name) {
  Registry& r = Plugins();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.factories.count(name) > 0;
}

absl::StatusOr<std::unique_ptr<ScorePlugin>> MakeScorePlugin(const std::string& name, const json::Value* args) {
  ScorePluginFactory factory;
  {
    Registry& r = Plugins();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.factories.find(name);
    if (it == r.factories.end()) return absl::NotFoundError(StrCat("unknown score plugin \"", name, "\""));
    factory = it->second;
  }
  if (args && !args->is_object()) return absl::InvalidArgumentError("args: must be an object");
  return factory(args);
}

}  // namespace berth::controllers::builtin
