#pragma once
// File: controllers/builtin/scheduler/queue_preemption.h
// Preemption for a queue's sake rather than by priority: which pods of other queues a pod may
// evict, pod by pod and as one node's set of victims. Two rules:
// - Reclaim (the seed-scheduling brief, 4.3): a pod whose queue stays within its `guaranteed`
//   with it takes room back from queues above theirs, never below their guarantee.
// - Fair share (opt-in; Kueue's fairSharing preemption, strategy LessThanOrEqualToFinalShare): a
//   pod whose queue is below the victims' queue and, with it, stays at or below that queue
//   without them (compared where their paths from the root part, as the work queue orders them). Without it, pods that fit only
//   where fragments remain (a 4-CPU pod once every node has fewer than 4 free) leave their
//   tenant below its share for good while smaller pods of richer tenants keep filling the gaps.
// Pure over a FairShare: no lock, no API.

#include <map>
#include <optional>
#include <string>

#include "controllers/builtin/scheduler/fair_share.h"

namespace berth::controllers::builtin {

class QueueVictimRule {
 public:
  // `leaving`: what each queue still holds in pods already leaving (victims, terminating);
  // they no longer count. `me`: the preemptor's requests; `mine`: its queue.
  // nullopt when the preemptor's queue is not within its guarantee with it.
  static std::optional<QueueVictimRule> Reclaim(const FairShare& shares, const std::string& mine, const ResourceMilli& me,
                                                const std::map<std::string, ResourceMilli>& leaving);
  // `pending_mine`: requests of the preemptor's queue already nominated (preempted for, not yet
  // bound), counted as its own. nullopt when no queue could give to it.
  static std::optional<QueueVictimRule> Fairness(const FairShare& shares, const std::string& mine, const ResourceMilli& me,
                                                 const ResourceMilli& pending_mine,
                                                 const std::map<std::string, ResourceMilli>& leaving);

  // Whether a pod of `queue` requesting `requests` may be a victim on its own.
  bool MayTake(const std::string& queue, const ResourceMilli& requests);
  // Whether all of a node's victims may go together (`taken`: queue -> what they request).
  bool MayTakeAll(const std::map<std::string, ResourceMilli>& taken) const;

 private:
  enum class Kind { kReclaim, kFairness };
  QueueVictimRule(Kind kind, const FairShare& shares, std::string mine, FairShare::Deltas deltas)
      : kind_(kind), shares_(&shares), mine_(std::move(mine)), deltas_(std::move(deltas)) {}
  // What `queue` holds above its guarantee covers `take`.
  bool Spare(const std::string& queue, const ResourceMilli& take) const;
  bool Allows(const std::map<std::string, ResourceMilli>& taken) const;

  Kind kind_;
  const FairShare* shares_;
  std::string mine_;
  FairShare::Deltas deltas_;  // leaving pods out; for fairness, the preemptor's nominated pods in
  ResourceMilli me_;          // fairness: the preemptor's requests
  mutable std::map<std::string, ResourceMilli> spare_;             // queue -> held above its guarantee
  std::map<std::string, bool> queue_open_;                          // fairness: queue -> anything at all
  std::map<std::pair<std::string, ResourceMilli>, bool> pod_memo_;  // (queue, requests) -> MayTake
};

}  // namespace berth::controllers::builtin
