#pragma once
// File: controllers/builtin/scheduler/scheduler.h
// Binds pending pods whose spec.schedulerName is default-scheduler (or empty) to nodes.
// Filters: node Ready, unschedulable, taints/tolerations, nodeSelector, required node affinity,
// CPU / memory / pod count against allocatable minus the requests already placed, host ports.
// Scores: least allocated + balanced allocation + preferred node affinity.
// Decisions are "assumed" in a local cache at once, so many pods bind in parallel without
// waiting for each binding to come back on the watch. A pod that fits nowhere gets
// PodScheduled=False/Unschedulable with per-reason node counts and is retried when nodes or
// pods change.

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

struct PodRequests {
  int64_t cpu_milli = 0;
  int64_t memory_milli = 0;
  std::set<int64_t> host_ports;
};
PodRequests RequestsOf(const json::Value& pod);

// Why a node does not fit, or "" when it does (exposed for unit tests).
std::string FitError(const json::Value& pod, const PodRequests& req, const json::Value& node,
                     int64_t used_cpu, int64_t used_memory, int64_t used_pods,
                     const std::set<int64_t>& used_ports);
double Score(const json::Value& pod, const PodRequests& req, const json::Value& node, int64_t used_cpu,
             int64_t used_memory);

class Scheduler final : public Reconciler {
 public:
  Scheduler(client::ApiClient& api, Informer& pods, Informer& nodes, const Clock& clock = RealClock::Get(),
            int workers = 8);
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }
  uint64_t bound() const { return bound_.load(); }

 private:
  struct Usage {
    int64_t cpu = 0, memory = 0, pods = 0;
    std::set<int64_t> ports;
  };
  static bool Ours(const json::Value& pod);
  std::map<std::string, Usage> UsageByNodeLocked();
  void RetryUnschedulable();

  client::ApiClient& api_;
  Informer& pods_;
  Informer& nodes_;
  const Clock& clock_;
  std::mutex mu_;
  struct Assumed {
    std::string node;
    PodRequests requests;
  };
  std::map<std::string, Assumed> assumed_;     // pod key -> binding not yet seen in the cache
  std::set<std::string> unschedulable_;        // pod keys waiting for the cluster to change
  std::atomic<uint64_t> bound_{0};
  Controller controller_;
};

}  // namespace berth::controllers::builtin
