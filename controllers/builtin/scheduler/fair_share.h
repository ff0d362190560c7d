#pragma once
// File: controllers/builtin/scheduler/fair_share.h
// Weighted dominant resource fairness between tenants (the seed-scheduling brief, 4.3): a tree
// of Queues (scheduling.berth.dev/v1alpha1), each namespace's pods charged to the first Queue by
// name whose namespaceSelector matches it, or else to an implicit weight-1 queue `ns/<name>`
// under the root, so namespaces share fairly with no configuration. A queue's share is its
// dominant share (max over resources of allocated / cluster capacity) divided by its weight;
// siblings with the lower share go first. Scarce resources (nvidia.com/gpu by default) and the
// revocable kubernetes.io/batch-* ones are left out of the share; `max` is a hard cap on the
// queue and each of its ancestors. Pure and not thread-safe: the scheduler locks around it.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controllers/builtin/placement/placement.h"
#include "core/json/value.h"
#include "core/selector/label_selector.h"

namespace berth::controllers::builtin {

using ResourceMilli = std::map<std::string, int64_t>;

struct QueueSpec {
  std::string name;
  std::string parent;  // "" or a queue that does not exist: a child of the root
  int64_t weight = 1;
  ResourceMilli guaranteed, max;
  std::optional<selector::LabelSelector> namespace_selector;  // nullopt: selects no namespace
  static QueueSpec Of(const json::Value& queue);
};

class FairShare {
 public:
  // queue -> a change to what it holds (and so to what each of its ancestors holds).
  using Deltas = std::map<std::string, ResourceMilli>;

  explicit FairShare(std::set<std::string> excluded = {"nvidia.com/gpu"}) : excluded_(std::move(excluded)) {}

  // Replaces the tree; allocations of queues that remain are kept.
  void SetQueues(std::vector<QueueSpec> queues);
  // Σ allocatable of the Ready nodes.
  void SetCapacity(ResourceMilli capacity) { capacity_ = std::move(capacity); }
  const ResourceMilli& capacity() const { return capacity_; }

  // The queue a namespace's pods are charged to.
  std::string QueueOf(const std::string& ns, const json::Value* ns_labels) const;
  static bool Implicit(const std::string& queue) { return queue.rfind("ns/", 0) == 0; }

  void Add(const std::string& queue, const PodRequests& r) { Charge(queue, r, 1); }
  void Remove(const std::string& queue, const PodRequests& r) { Charge(queue, r, -1); }
  void ClearAllocations() { allocated_.clear(); }

  // "root.eng.team-a" (implicit queues: "root.ns/<name>").
  std::string PathOf(const std::string& queue) const;
  double Share(const std::string& queue) const;
  // What `queue` would hold with `deltas` applied to it and its descendants, and the weighted
  // dominant share of such a holding.
  ResourceMilli AllocatedWith(const std::string& queue, const Deltas& deltas) const;
  double ShareOf(const std::string& queue, const ResourceMilli& allocated) const;
  // Where the paths of a and b from the root part: the two siblings the work queue compares.
  // nullopt when a == b or one is the other's ancestor.
  std::optional<std::pair<std::string, std::string>> Siblings(const std::string& a, const std::string& b) const;
  // Queues holding something (leaves and their ancestors).
  std::vector<std::string> Charged() const;
  ResourceMilli Allocated(const std::string& queue) const;
  // Whether `queue` or an ancestor would pass its max with `r` added: "queue root.a at max:
  // cpu 3/3", else "".
  std::string MaxReason(const std::string& queue, const PodRequests& r) const;
  // Whether a's pods go before b's: compared at their first differing ancestors (siblings),
  // a sibling below its guarantee first, then lower share first; nullopt when those are equal
  // (or a == b).
  std::optional<bool> Before(const std::string& a, const std::string& b) const;
  // Whether a named queue holds less than its guarantee of some resource.
  bool BelowGuarantee(const std::string& queue) const;
  // A named queue's spec; null for implicit queues and unknown names.
  const QueueSpec* Spec(const std::string& queue) const { return Find(queue); }
  // Every named queue (not implicit ones).
  std::vector<std::string> Named() const;

  static ResourceMilli VectorOf(const PodRequests& r);

 private:
  const QueueSpec* Find(const std::string& queue) const;
  std::string ParentOf(const std::string& queue) const;  // "" = root
  std::vector<std::string> Chain(const std::string& queue) const;  // root child first, queue last
  bool Counted(const std::string& resource) const;
  void Charge(const std::string& queue, const PodRequests& r, int sign);

  std::set<std::string> excluded_;
  std::map<std::string, QueueSpec> queues_;
  std::map<std::string, ResourceMilli> allocated_;  // queue -> its pods and its descendants'
  ResourceMilli capacity_;
};

}  // namespace berth::controllers::builtin
