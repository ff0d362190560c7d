#include "controllers/builtin/scheduler/queue_preemption.h"

namespace berth::controllers::builtin {

namespace {

// Whether `have` covers every positive amount of `give`.
bool Within(const ResourceMilli& give, const ResourceMilli& have) {
  for (const auto& [r, m] : give) {
    auto h = have.find(r);
    if (m > 0 && (h == have.end() || h->second < m)) return false;
  }
  return true;
}

FairShare::Deltas WithoutLeaving(const std::map<std::string, ResourceMilli>& leaving) {
  FairShare::Deltas deltas;
  for (const auto& [queue, held] : leaving) {
    for (const auto& [r, m] : held) deltas[queue][r] -= m;
  }
  return deltas;
}

}  // namespace

std::optional<QueueVictimRule> QueueVictimRule::Reclaim(const FairShare& shares, const std::string& mine,
                                                        const ResourceMilli& me,
                                                        const std::map<std::string, ResourceMilli>& leaving) {
  const QueueSpec* spec = shares.Spec(mine);
  if (spec == nullptr || spec->guaranteed.empty()) return std::nullopt;
  ResourceMilli room = spec->guaranteed;  // what the guarantee still covers
  ResourceMilli used = shares.Allocated(mine);
  for (auto& [r, g] : room) g -= used.count(r) ? used[r] : 0;
  ResourceMilli asked;
  for (const auto& [r, m] : me) {
    if (room.count(r)) asked[r] = m;
  }
  if (!Within(asked, room)) return std::nullopt;
  return QueueVictimRule(Kind::kReclaim, shares, mine, WithoutLeaving(leaving));
}

std::optional<QueueVictimRule> QueueVictimRule::Fairness(const FairShare& shares, const std::string& mine,
                                                         const ResourceMilli& me, const ResourceMilli& pending_mine,
                                                         const std::map<std::string, ResourceMilli>& leaving) {
  FairShare::Deltas deltas = WithoutLeaving(leaving);
  for (const auto& [r, m] : pending_mine) deltas[mine][r] += m;
  QueueVictimRule rule(Kind::kFairness, shares, mine, std::move(deltas));
  rule.me_ = me;
  // Most attempts come from queues at or above everyone else's share: they are answered here,
  // without looking at a node.
  for (const std::string& queue : shares.Charged()) {
    if (rule.MayTake(queue, {})) return rule;
  }
  return std::nullopt;
}

bool QueueVictimRule::Spare(const std::string& queue, const ResourceMilli& take) const {
  auto spare = spare_.find(queue);
  if (spare == spare_.end()) {
    ResourceMilli held = shares_->AllocatedWith(queue, deltas_);
    if (const QueueSpec* spec = shares_->Spec(queue)) {
      for (const auto& [r, g] : spec->guaranteed) held[r] -= g;
    }
    spare = spare_.emplace(queue, std::move(held)).first;
  }
  return Within(take, spare->second);
}

bool QueueVictimRule::Allows(const std::map<std::string, ResourceMilli>& taken) const {
  FairShare::Deltas after = deltas_;
  for (const auto& [queue, take] : taken) {
    if (queue == mine_ || !Spare(queue, take)) return false;
    for (const auto& [r, m] : take) after[queue][r] -= m;
  }
  if (kind_ == Kind::kReclaim) return true;
  FairShare::Deltas with_me = after;
  for (const auto& [r, m] : me_) with_me[mine_][r] += m;
  auto share = [&](const std::string& queue, const FairShare::Deltas& deltas) {
    return shares_->ShareOf(queue, shares_->AllocatedWith(queue, deltas));
  };
  for (const auto& [queue, take] : taken) {
    auto pair = shares_->Siblings(mine_, queue);
    if (!pair) return false;
    const auto& [gainer, giver] = *pair;
    // Below now, and not above once moved: the move can never be undone by the giver's own
    // pods, so two queues do not trade pods back and forth (LessThanOrEqualToFinalShare).
    if (!(share(gainer, deltas_) < share(giver, deltas_))) return false;
    if (!(share(gainer, with_me) <= share(giver, after))) return false;
  }
  return true;
}

bool QueueVictimRule::MayTake(const std::string& queue, const ResourceMilli& requests) {
  if (queue == mine_) return false;
  if (kind_ == Kind::kReclaim) return Spare(queue, requests);
  // Taking nothing is the best case: a queue that fails it gives no pod.
  auto open = queue_open_.find(queue);
  if (open == queue_open_.end()) open = queue_open_.emplace(queue, Allows({{queue, {}}})).first;
  if (!open->second) return false;
  auto key = std::make_pair(queue, requests);
  auto memo = pod_memo_.find(key);
  if (memo == pod_memo_.end()) memo = pod_memo_.emplace(std::move(key), Allows({{queue, requests}})).first;
  return memo->second;
}

bool QueueVictimRule::MayTakeAll(const std::map<std::string, ResourceMilli>& taken) const { return Allows(taken); }

}  // namespace berth::controllers::builtin
