#pragma once
// File: controllers/builtin/scheduler/scheduler.h
// Binds pending pods whose spec.schedulerName names one of its profiles (default-scheduler, or
// empty, by default) to nodes; score plugins and weights come from that profile (profile.h).
// Filters: node Ready, unschedulable, taints/tolerations, nodeSelector, required node affinity,
// host ports, then every requested resource against allocatable minus the requests already
// placed (and the requests of higher-or-equal priority pods nominated to the node), then
// topology spread (DoNotSchedule) and inter-pod affinity/anti-affinity over the placed pods.
// Scores: the profile's score plugins (default: NodeResourcesFit LeastAllocated, balanced
// allocation, preferred node affinity), plus preferred inter-pod terms and ScheduleAnyway spread
// normalized over the feasible nodes as upstream (weight 2 each by default).
// Queue: higher spec.priority first (resolved by the apiserver's Priority admission), then the
// fair-share queue with the lowest weighted dominant share (fair_share.h), then older.
// Decisions are "assumed" in a local cache at once, so many pods bind in parallel without
// waiting for each binding to come back on the watch. A pod that fits nowhere may preempt
// lower-priority pods (Kubernetes' DefaultPreemption: preemption.h): the victims get the
// DisruptionTarget condition, a Preempted event and a graceful delete, and the pod is nominated
// to the node (status.nominatedNodeName) until it binds. Otherwise it gets
// PodScheduled=False/Unschedulable with per-reason node counts and is retried when nodes or pods
// change.

#include <map>
#include <mutex>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "controllers/builtin/placement/cluster_view.h"
#include "controllers/builtin/placement/placement.h"
#include "controllers/builtin/scheduler/fair_share.h"
#include "controllers/builtin/scheduler/nominations.h"
#include "controllers/builtin/scheduler/placed_pod_index.h"
#include "controllers/builtin/scheduler/preemption.h"
#include "controllers/builtin/scheduler/profile.h"
#include "controllers/builtin/scheduler/why_pending.h"
#include "controllers/runtime/controller.h"
#include "controllers/runtime/event_recorder.h"
#include "controllers/runtime/informer.h"
#include "core/metrics/histogram.h"
#include "core/time/periodic.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

// Buckets of the preemption decision histogram, in seconds: fine around the brief's 30 ms.
const std::vector<double>& PreemptionDecisionBounds();

// Berth's preemption options beyond upstream (defaults keep Kubernetes' behaviour).
struct PreemptionOptions {
  // A pod preempts only pods at least this much lower in priority (Nomad uses 10).
  int64_t min_priority_gap = 1;
  // Pods at or above this priority never preempt each other (Borg's production band).
  std::optional<int64_t> protected_band;
  // A pod of a queue below another's weighted dominant share may preempt that queue's pods at its
  // own priority or below, while its queue stays strictly below the other (Kueue's fairSharing
  // preemption). Off: only priority and a guarantee's reclaim preempt, as the brief asks.
  bool fair_share = false;
};
// Why a preemption was carried out: the victims' DisruptionTarget message says so.
enum class PreemptionReason { kPriority, kReclaim, kFairShare };

// A PriorityClass annotation: its pods never preempt a victim whose eviction would break a
// PodDisruptionBudget (upstream is best effort only: kubernetes#91492, KEP-3280).
inline constexpr const char* kStrictBudgetAnnotation = "scheduling.berth.dev/pdb";

class Scheduler final : public Reconciler {
 public:
  Scheduler(client::ApiClient& api, Informer& pods, Informer& nodes, const Clock& clock = RealClock::Get(),
            int workers = 8, absl::Duration usage_resync = absl::Seconds(30));
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }
  // Optional: where the controller reports what it did (v1 Events).
  void SetEventRecorder(EventRecorder* recorder) { events_ = recorder; }
  // Optional: PodDisruptionBudgets, so preemption prefers victims whose eviction breaks none
  // (best effort, as upstream). Before the informers start.
  void SetDisruptionBudgets(Informer* budgets) { budgets_ = budgets; }
  // Optional: PriorityClasses, for the strict-budget annotation. Before the informers start.
  void SetPriorityClasses(Informer* classes) { classes_ = classes; }
  // Optional: Namespaces, for the namespaceSelector of pod affinity terms (without it a
  // namespace has no labels). Before the informers start.
  void SetNamespaces(Informer* namespaces);
  // Optional: Queues (scheduling.berth.dev/v1alpha1) for weighted fair share between tenants;
  // without them every namespace is its own weight-1 queue. Before the informers start.
  void SetQueues(Informer* queues);
  // Writes each Queue's status (allocated, weightedDominantShare, pendingPods) where it changed;
  // runs every `status_interval` (constructor) and is a test hook.
  void WriteQueueStatus();
  // Test hooks: a queue's weighted dominant share and its path.
  double ShareForTest(const std::string& queue);
  // Why the pod is pending, recomputed now without writing anything (the controller-manager's
  // /debug/pending/<ns>/<pod>); kNotFound when it is not a pod this scheduler waits on.
  absl::StatusOr<json::Value> ExplainPending(const std::string& key);
  void SetPreemptionOptions(PreemptionOptions options) { preemption_ = options; }
  // The profiles this scheduler serves, one per schedulerName (default: Kubernetes' default
  // profile as default-scheduler). Pods naming another scheduler are left alone. Before start.
  void SetProfiles(std::vector<SchedulerProfile> profiles);
  uint64_t bound() const { return bound_.load(); }
  uint64_t preempted() const { return preempted_.load(); }
  // Prometheus text: preemption attempts, victims, and the decision latency (dequeue ->
  // nominatedNodeName written), the figure the seed-scheduling brief's B3a judges.
  void RenderMetrics(std::string& out) const;

  // Rebuilds per-node usage from the pod cache and the assumed bindings; returns how many nodes'
  // figures it corrected. Runs every `usage_resync` (constructor), so a missed informer event
  // cannot skew placement for longer than that.
  size_t ResyncUsage();
  // Retries the waiting nominees that fit their nominated node now (their own victims gone, room
  // held for others counted); returns how many. Runs every second with the usage resync, and
  // counts in berth_scheduler_nominees_swept_total: each is a wake-up some event failed to give.
  size_t RetryNomineesThatFit();
  // Test hooks: a node's counted CPU (milli) and pods; dropping a placement as a lost event would.
  std::pair<int64_t, int64_t> UsageForTest(const std::string& node);
  void ForgetPlacementForTest(const std::string& pod_key);
  // As if this scheduler had chosen `node` for the cached pod and its binding were in flight.
  void AssumeForTest(const std::string& pod_key, const std::string& node);

 private:
  // Where a pod's requests are counted: bound pods from the cache, assumed ones at once.
  struct Placement {
    std::string node;
    RunningPod pod;
    bool terminating = false;  // being deleted: still uses the node, no longer a victim
    std::string queue;         // the fair-share queue it is charged to
    // FairShare::VectorOf(pod.requests), once: the queue rules weigh it per pod per search.
    ResourceMilli share;
  };
  // The cache as the inter-pod rules see it (under mu_).
  class CacheView;
  // A node as the filters need it, rebuilt only when the node object changes.
  struct NodeInfo {
    ObjectPtr object;
    std::string name;
    NodeAllocatable allocatable;
    bool ready = false;
    bool plain = false;  // schedulable and untainted: only resources and ports can refuse a pod
    bool prefer_no_schedule = false;  // has a PreferNoSchedule taint: TaintToleration scores it
    size_t name_hash = 0;  // breaks score ties with the pod's hash (computed once per node)
    // usage_[name]: node_hash_map entries stay put and none is erased, so the scan reads a
    // node's usage without hashing its name (re-resolved when usage_ is replaced wholesale).
    NodeUsage* usage = nullptr;
  };
  void ResolveUsageLocked();
  // Fair-share preemption's queueing hint: a pod of `bound_queue` was bound, so waiting pods of
  // queues now below it may find victims. Wakes a few of each such queue (under mu_; returns them).
  std::vector<std::string> WakeBelowShareLocked(const std::string& bound_key);
  // What one scheduling attempt found, under mu_; it changes nothing but the scan's start.
  struct Attempt {
    std::string chosen;
    std::map<std::string, int> reasons;       // per-node refusals, counted
    size_t node_count = 0;
    std::vector<size_t> resolvable;           // nodes that failed only for room
    std::vector<size_t> refused_by_rules;     // nodes inter-pod rules refused (preemption.h)
    std::string prefilter_error;              // the pod's inter-pod terms could not be read
    std::string queue_block;                  // its fair-share queue is at its max
    bool refused_by_pods = false;             // some node refused only by inter-pod rules
    bool waiting_for_victims = false;         // its nominated node's victims are still leaving
    bool nominated_fits = false;
    std::string largest_free_node;            // the Ready node with the most free cpu
    int64_t largest_free_cpu = -1, largest_free_memory = 0;
  };
  Attempt AttemptLocked(const std::string& key, const json::Value& pod, const RunningPod& me, const SchedulerProfile& profile);
  // The why-pending facts of an attempt that bound nothing (under mu_); the queue position and
  // the number waiting are filled only when `with_position` (they walk every waiting pod).
  PendingFacts FactsLocked(const std::string& key, const json::Value& pod, const RunningPod& me, const Attempt& a,
                           const std::string& why_not, bool with_position);
  // Writes the PodScheduled condition when it changed. A conflict (the cached copy is older than
  // the API's, often by this scheduler's own last write, whose status-only event does not queue
  // the pod) is met by reading the pod again and writing once more, so the condition says what
  // the latest attempt found, as upstream's version-less status patch does.
  absl::Status WriteScheduledCondition(const json::Value& pod, const std::string& reason, const std::string& message);
  // Writes the attempt's explanation to the pod's annotation when it changed, at most every
  // 10 s per pod.
  void MaybeWriteWhyPending(const std::string& key, const json::Value& pod, const Attempt& a, const std::string& why_not);
  // What the decision under the lock asks the worker to do once it is released.
  struct PreemptionPlan {
    std::string node;
    std::vector<RunningPod> victims;
    std::vector<std::string> denominate;  // lower-priority pods nominated to the same node
    PreemptionReason reason = PreemptionReason::kPriority;
  };
  // The profile that schedules the pod (by spec.schedulerName), null when none of ours does or
  // it is bound or being deleted.
  const SchedulerProfile* ProfileOf(const json::Value& pod) const;
  bool Ours(const json::Value& pod) const { return ProfileOf(pod) != nullptr; }
  static RunningPod RunningPodOf(const std::string& key, const json::Value& pod);
  WorkQueue::Rank RankOf(const std::string& key);
  // A node changed: every waiting pod is tried again at once.
  void RetryUnschedulable();
  // A pod on `node` went (`freed`), arrived or was relabelled: pods nominated to the node are
  // tried at once if it went; waiting pods not nominated elsewhere that room could help (if it
  // went) or that inter-pod rules refused come back after their back-off (1 s doubling to 10 s,
  // as upstream), so a storm of pod changes does not retry every pending pod each time.
  void RetryAfterPodChange(const std::string& node, bool freed);
  // Counts the pod's requests on `node`; its object goes into pod_index_ separately.
  void PlaceLocked(const std::string& key, const std::string& node, const RunningPod& pod);
  // The fair-share queue of a namespace's pods (under share_mu_).
  std::string QueueOfNamespaceLocked(const std::string& ns);
  int64_t GroupIdLocked(const std::string& queue);
  // Queues or namespace labels changed: rebuild the tree and charge every placement again.
  void OnQueuesChanged();
  // Calls OnQueuesChanged when the informer's objects come, go or change at first.second
  // (second "" for all of first).
  void RederiveQueuesOnChange(Informer& informer, const char* first, const char* second);
  void RechargeLocked();  // under mu_ and share_mu_
  void UnplaceLocked(const std::string& key);
  void NominateLocked(const std::string& key, const std::string& node, const RunningPod& pod);
  // True if it was nominated. Unless it now takes the room on that node itself (`now_on`), the
  // pods waiting for room there are retried once the lock is released
  // (RetryAfterReleasedNominations), as when a pod leaves the node.
  bool DenominateLocked(const std::string& key, const std::string& now_on = "");
  void RetryAfterReleasedNominations();  // without mu_
  // `requeue`: the change may make the pod schedulable (false for its own status writes, which
  // would otherwise put a waiting pod back in the queue ahead of the cluster change it waits for).
  void OnPodChanged(const ObjectPtr& pod, bool deleted, bool requeue = true);
  void RefreshNodesLocked();
  // Adds to `usage` the requests of pods nominated to `node` at `priority` or above, other than
  // `key`: room promised to them stays promised. False when it added nothing.
  bool AddHeldLocked(const std::string& node, const std::string& key, int64_t priority, NodeUsage& usage) const;
  // Whether pods below `priority` on `node` are being evicted or deleted (victims still leaving).
  bool VictimsLeavingLocked(const std::string& node, int64_t priority) const;
  // Whether the victims a nominated pod chose are still on their node; for a nomination whose
  // victims are unknown, VictimsLeavingLocked at its priority.
  bool OwnVictimsLeavingLocked(const std::string& key) const;
  // Under mu_, after no node fit: the preemption to carry out, or why there is none (the
  // "preemption: ..." suffix of the Unschedulable message).
  std::optional<PreemptionPlan> PlanPreemptionLocked(const std::string& key, const json::Value& pod, const RunningPod& me,
                                                     const std::vector<size_t>& resolvable,
                                                     const std::vector<size_t>& refused_by_rules, std::string& why_not);
  absl::Status CarryOut(const json::Value& pod, const PreemptionPlan& plan);
  // Publishes the preemptor's nomination with its PodScheduled condition, then carries the plan
  // out. nullopt: done, the pod waits as any refused pod; otherwise what Reconcile returns.
  std::optional<absl::StatusOr<Result>> PublishAndCarryOut(const std::string& key, const json::Value& pod,
                                                           const PreemptionPlan& plan, const std::string& reason,
                                                           const std::string& message,
                                                           std::chrono::steady_clock::time_point dequeued);

  client::ApiClient& api_;
  Informer& pods_;
  Informer& nodes_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Placement> assumed_;   // pod key -> binding not yet seen in the cache
  // Keyed by hash, not order: the node scans look these up per node and per pod, and nothing
  // walks them in order (node_hash_map keeps references stable, as std::map did).
  absl::node_hash_map<std::string, Placement> placed_;    // pod key -> counted placement (bound or assumed)
  absl::node_hash_map<std::string, std::set<std::string>> keys_on_node_;  // node -> keys in placed_
  std::map<int64_t, int64_t> placed_by_priority_;  // priority -> pods in placed_ (cheap "any victim?")
  PlacedPodIndex pod_index_;                   // the objects behind placed_, for inter-pod rules
  absl::node_hash_map<std::string, NodeUsage> usage_;     // node -> requests placed on it
  Nominations nominated_;                      // pods that preempted, waiting for their room
  std::vector<std::string> released_nodes_;    // nodes where DenominateLocked freed held room
  std::vector<NodeInfo> nodes_cache_;          // rebuilt on node events
  size_t prefer_no_schedule_nodes_ = 0;        // of them, with a PreferNoSchedule taint
  absl::flat_hash_map<std::string, size_t> node_index_;   // name -> index in nodes_cache_
  // label key -> (node, value) over nodes_cache_, built when a spread constraint first asks.
  mutable std::map<std::string, std::vector<std::pair<const json::Value*, const std::string*>>> label_columns_;
  bool nodes_dirty_ = true;
  size_t next_start_ = 0;                      // round-robin start of the node scan
  std::set<std::string> unschedulable_;        // pod keys waiting for the cluster to change
  std::set<std::string> waiting_unnominated_;  // the subset of unschedulable_ nominated nowhere
  // With fair-share preemption: that subset by queue, so a queue whose share another's binding
  // just passed is tried again (entries may be stale: unschedulable_ decides).
  std::map<std::string, std::set<std::string>> waiting_by_queue_;
  // Counts changes to what preemption weighs (placements, nominations, terminations, nodes), so
  // a fair-share search that found nothing is not repeated, pod after pod of the same queue and
  // shape, while nothing changed: thousands wait when every node is full.
  uint64_t cluster_changes_ = 0;
  std::map<std::tuple<std::string, ResourceMilli, int64_t>, uint64_t> fair_share_futile_;  // (queue, requests, priority) -> at
  std::set<std::string> waiting_on_pods_;      // the subset some inter-pod rule refused
  std::map<std::string, int> attempts_;        // failed attempts per waiting pod (back-off)
  absl::flat_hash_set<std::string> evicting_;  // chosen as victims: never chosen twice
  // The placed pods whose Placement::terminating is set, so that what is leaving is found
  // without walking every placed pod (a reclaim asks it on each attempt).
  absl::flat_hash_set<std::string> terminating_;
  // Counts RetryUnschedulable calls: a pod whose attempt overlapped one is retried at once, since
  // the change may have come after its filters ran (upstream's moveRequestCycle).
  uint64_t move_requests_ = 0;
  std::atomic<uint64_t> bound_{0};
  std::atomic<uint64_t> preempted_{0};
  std::atomic<uint64_t> preemption_attempts_{0};
  std::atomic<uint64_t> nominees_swept_{0};
  std::atomic<uint64_t> conflicts_reread_{0};  // condition writes that met a 409 and read the pod again
  metrics::Histogram preemption_decision_{PreemptionDecisionBounds()};
  EventRecorder* events_ = nullptr;
  Informer* budgets_ = nullptr;
  Informer* classes_ = nullptr;
  Informer* namespaces_ = nullptr;
  Informer* queues_ = nullptr;
  // Fair share: taken after mu_ when both are needed, and alone by the work queue's head order
  // at each pop (so never held while adding to the queue).
  std::mutex share_mu_;
  FairShare fair_share_;
  std::map<std::string, std::string> queue_of_ns_;     // cache, cleared when queues change
  std::map<std::string, int64_t> group_ids_;           // queue -> rank[1] in the work queue
  std::vector<std::string> group_names_;               // rank[1] -> queue
  std::map<std::string, std::string> status_written_;  // queue -> last status written
  struct WhyWritten {
    std::string text;  // without the queue position, which moves with every pod
    absl::Time at;
  };
  std::map<std::string, WhyWritten> why_written_;  // pod key -> its last explanation (under mu_)
  std::unique_ptr<Periodic> queue_status_;
  PreemptionOptions preemption_;
  std::vector<SchedulerProfile> profiles_{DefaultProfile()};
  std::map<std::string, size_t> profile_index_{{"default-scheduler", 0}};
  Controller controller_;
  std::unique_ptr<Periodic> nominee_sweep_;
  std::unique_ptr<Periodic> resync_;  // last: stops first
};

}  // namespace berth::controllers::builtin
