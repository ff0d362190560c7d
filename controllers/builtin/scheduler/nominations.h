#pragma once
// File: controllers/builtin/scheduler/nominations.h
// Pods that preempted and wait for their room (status.nominatedNodeName), by pod and by node.
// The scheduler keeps it under its own lock; only IsNominated may be called without that lock
// (the work queue's ranking, at any time), so the class keeps the copy of its keys that needs,
// in step with every change.

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "controllers/builtin/scheduler/preemption.h"

namespace berth::controllers::builtin {

struct Nomination {
  std::string node;
  RunningPod pod;
  // The victims it chose (empty for a nomination adopted from status.nominatedNodeName):
  // reclaim and fair-share victims may be at its own priority or above, so "lower-priority
  // pods leaving the node" would not tell that they are its own.
  std::vector<std::string> victims;
  bool swept = false;  // retried once by the sweep (Scheduler::RetryNomineesThatFit)
};

class Nominations {
 public:
  // Replaces any earlier nomination of the pod.
  void Add(const std::string& key, const std::string& node, const RunningPod& pod);
  // False if the pod had none.
  bool Remove(const std::string& key);

  const Nomination* Find(const std::string& key) const;
  void AddVictim(const std::string& key, const std::string& victim);
  // Marks the nomination swept; false if it already was (or there is none).
  bool MarkSwept(const std::string& key);
  bool Contains(const std::string& key) const { return by_pod_.contains(key); }
  // The pods nominated to `node`; nullptr when there are none.
  const std::set<std::string>* OnNode(const std::string& node) const;
  bool Empty() const { return by_node_.empty(); }
  const absl::node_hash_map<std::string, Nomination>& All() const { return by_pod_; }

  // Any thread, without the scheduler's lock.
  bool IsNominated(const std::string& key) const;

 private:
  absl::node_hash_map<std::string, Nomination> by_pod_;
  absl::node_hash_map<std::string, std::set<std::string>> by_node_;
  mutable std::mutex keys_mu_;  // a leaf: nothing is taken while it is held
  absl::flat_hash_set<std::string> keys_;
};

}  // namespace berth::controllers::builtin
