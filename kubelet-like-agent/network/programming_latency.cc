#include "kubelet-like-agent/network/programming_latency.h"

#include "core/strings/strings.h"
#include "core/time/clock.h"

namespace berth::agent::network {
namespace {

constexpr char kTriggerTime[] = "endpoints.kubernetes.io/last-change-trigger-time";
constexpr char kName[] = "kubeproxy_network_programming_duration_seconds";

// Finer than kube-proxy's (0.25 s up to 5 min): incremental syncs here take milliseconds.
std::vector<double> Bounds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300};
}

}  // namespace

ProgrammingLatency::ProgrammingLatency(absl::Time started) : started_(started), histogram_(Bounds()) {}

void ProgrammingLatency::Applied(const std::vector<const json::Value*>& slices, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> in_place;
  for (const json::Value* slice : slices) {
    std::string trigger = slice->GetString({"metadata", "annotations", kTriggerTime});
    if (trigger.empty()) continue;
    std::string key = StrCat(slice->GetString({"metadata", "namespace"}), "/", slice->GetString({"metadata", "name"}));
    auto before = applied_.find(key);
    if (before == applied_.end() || before->second != trigger) {
      const absl::Time at = ParseRfc3339(trigger, absl::InfinitePast());
      if (at >= started_ && at <= now) histogram_.Observe(absl::ToDoubleSeconds(now - at));
    }
    in_place.emplace(std::move(key), std::move(trigger));
  }
  applied_ = std::move(in_place);  // slices that went are forgotten
}

void ProgrammingLatency::Render(std::string& out) const {
  StrAppend(&out, "# HELP ", kName,
            " Time from an EndpointSlice change (its last-change-trigger-time) to the node's rules holding it.\n# TYPE ",
            kName, " histogram\n");
  histogram_.Render(out, kName, "");
}

}  // namespace berth::agent::network
