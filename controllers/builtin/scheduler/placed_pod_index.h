#pragma once
// File: controllers/builtin/scheduler/placed_pod_index.h
// The pods placed on nodes as the inter-pod rules read them on every attempt: those with
// affinity terms grouped by node, and all of them by namespace and by label, so a selector
// reads the pods it may match rather than every pod. Each distinct term list is parsed once
// and shared (a ReplicaSet's pods carry the same terms), which also lets InterPodAffinity
// match a list once per attempt. Not thread-safe: the scheduler holds its lock.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "controllers/builtin/placement/inter_pod_affinity.h"
#include "controllers/runtime/informer.h"
#include "core/selector/label_selector.h"

namespace berth::controllers::builtin {

class PlacedPodIndex {
 public:
  struct Entry {
    std::string node;
    ObjectPtr object;
    std::shared_ptr<const PodAffinityTerms> terms;  // null without pod (anti-)affinity
  };
  using EntryFn = std::function<void(const Entry&)>;

  // Adds or replaces the pod's entry; true when it is new, moved or its labels changed (pods
  // waiting on inter-pod rules may now fit).
  bool Put(const std::string& key, const std::string& node, ObjectPtr object);
  void Remove(const std::string& key);
  // Drops every entry whose key is not in `keep`.
  void RemoveAllBut(const std::set<std::string>& keep);
  size_t size() const { return entries_.size(); }
  bool any_affinity() const { return !affinity_on_node_.empty(); }

  void ForEach(const EntryFn& fn) const;
  // Pods with affinity terms, node by node.
  void ForEachWithAffinity(const std::function<void(const std::string& node, const Entry&)>& fn) const;
  // Each distinct term list once, with the nodes hosting its pods and how many (see
  // ClusterView::ForEachTermGroup).
  void ForEachTermGroup(const std::function<bool(const PodAffinityTerms&)>& wants,
                        const std::function<void(const std::string& node, int64_t pods)>& fn) const;
  // A superset of the pods `selector` matches in namespace `ns` (null: every namespace): the
  // pods carrying its most selective `key=value` / `key in (...)` label, else the namespace's.
  void ForEachMaybeMatching(const std::string* ns, const selector::LabelSelector& selector, const EntryFn& fn) const;

 private:
  using Set = std::set<const Entry*>;
  void Index(const Entry& e, bool add);
  std::shared_ptr<const PodAffinityTerms> Intern(const json::Value& pod);
  void ForEachMaybeMatchingIn(const std::string& ns, const selector::LabelSelector& selector, const EntryFn& fn) const;

  std::map<std::string, Entry> entries_;                  // pod key -> entry (stable addresses)
  std::map<std::string, Set> affinity_on_node_;           // node -> entries with terms
  std::map<const PodAffinityTerms*, std::map<std::string, int64_t>> by_terms_;  // list -> node -> pods
  std::map<std::string, Set> in_namespace_;               // namespace -> entries
  std::map<std::string, Set> by_label_;                   // namespace \0 key \0 value -> entries
  std::map<std::string, std::weak_ptr<const PodAffinityTerms>> interned_;  // signature -> terms
};

}  // namespace berth::controllers::builtin
