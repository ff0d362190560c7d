#pragma once
// File: controllers/builtin/scheduler/scheduler.h
// Binds pending pods whose spec.schedulerName is default-scheduler (or empty) to nodes.
// Filters: node Ready, unschedulable, taints/tolerations, nodeSelector, required node affinity,
// CPU / memory / pod count against allocatable minus the requests already placed, host ports.
// Scores: least allocated + balanced allocation + preferred node affinity.
// Queue: higher spec.priority first (resolved by the apiserver's Priority admission), then older.
// Decisions are "assumed" in a local cache at once, so many pods bind in parallel without
// waiting for each binding to come back on the watch. A pod that fits nowhere gets
// PodScheduled=False/Unschedulable with per-reason node counts and is retried when nodes or
// pods change.

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controllers/builtin/placement/placement.h"
#include "controllers/runtime/controller.h"
#include "controllers/runtime/event_recorder.h"
#include "controllers/runtime/informer.h"
#include "core/time/periodic.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

class Scheduler final : public Reconciler {
 public:
  Scheduler(client::ApiClient& api, Informer& pods, Informer& nodes, const Clock& clock = RealClock::Get(),
            int workers = 8, absl::Duration usage_resync = absl::Seconds(30));
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }
  // Optional: where the controller reports what it did (v1 Events).
  void SetEventRecorder(EventRecorder* recorder) { events_ = recorder; }
  uint64_t bound() const { return bound_.load(); }

  // Rebuilds per-node usage from the pod cache and the assumed bindings; returns how many nodes'
  // figures it corrected. Runs every `usage_resync` (constructor), so a missed informer event
  // cannot skew placement for longer than that.
  size_t ResyncUsage();
  // Test hooks: a node's counted CPU (milli) and pods; dropping a placement as a lost event would.
  std::pair<int64_t, int64_t> UsageForTest(const std::string& node);
  void ForgetPlacementForTest(const std::string& pod_key);

 private:
  // Where a pod's requests are counted: bound pods from the cache, assumed ones at once.
  struct Placement {
    std::string node;
    PodRequests requests;
  };
  // A node as the filters need it, rebuilt only when the node object changes.
  struct NodeInfo {
    ObjectPtr object;
    std::string name;
    NodeAllocatable allocatable;
    bool ready = false;
    bool plain = false;  // schedulable and untainted: only resources and ports can refuse a pod
  };
  static bool Ours(const json::Value& pod);
  WorkQueue::Rank RankOf(const std::string& key) const;
  void RetryUnschedulable();
  void PlaceLocked(const std::string& key, const std::string& node, const PodRequests& req);
  void UnplaceLocked(const std::string& key);
  void OnPodChanged(const ObjectPtr& pod, bool deleted);

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
  std::map<std::string, Placement> placed_;    // pod key -> counted placement (bound or assumed)
  std::map<std::string, NodeUsage> usage_;       // node -> requests placed on it
  std::vector<NodeInfo> nodes_cache_;          // rebuilt on node events
  bool nodes_dirty_ = true;
  size_t next_start_ = 0;                      // round-robin start of the node scan
  std::set<std::string> unschedulable_;        // pod keys waiting for the cluster to change
  std::atomic<uint64_t> bound_{0};
  EventRecorder* events_ = nullptr;
  Controller controller_;
  std::unique_ptr<Periodic> resync_;  // last: stops first
};

}  // namespace berth::controllers::builtin
