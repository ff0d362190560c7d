#pragma once
// File: controllers/builtin/placement/cluster_view.h
// What the inter-pod placement rules (pod affinity, anti-affinity, topology spread) need to
// know of the cluster: every node, the pods counted on each, and namespace labels. The
// scheduler implements it over its cache; tests over plain vectors.

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/json/value.h"
#include "core/selector/label_selector.h"

namespace berth::controllers::builtin {

struct PodAffinityTerms;  // inter_pod_affinity.h

// The value of label `key` on `object` (metadata.labels), or nullptr.
const std::string* LabelOf(const json::Value& object, const std::string& key);

class ClusterView {
 public:
  using NodeFn = std::function<void(const json::Value& node)>;
  using PodFn = std::function<void(const json::Value& pod, const json::Value& node)>;
  virtual ~ClusterView() = default;
  virtual void ForEachNode(const NodeFn& fn) const = 0;
  // The nodes that carry label `key`, with its value: a column a view may keep between calls.
  using LabelledNodeFn = std::function<void(const json::Value& node, const std::string& value)>;
  virtual void ForEachNodeLabelled(const std::string& key, const LabelledNodeFn& fn) const {
    ForEachNode([&](const json::Value& node) {
      if (const std::string* v = LabelOf(node, key)) fn(node, *v);
    });
  }
  // Every pod counted on a node (bound, or assumed by the scheduler), with that node: the same
  // object ForEachNode passes (callers may key on its address).
  virtual void ForEachPod(const PodFn& fn) const = 0;
  // The subset of ForEachPod whose pods have pod affinity or anti-affinity terms, with those
  // terms parsed if the view keeps them (null: the caller parses). An index keeps this cheap
  // when few pods have any.
  using AffinityPodFn = std::function<void(const json::Value& pod, const json::Value& node, const PodAffinityTerms* terms)>;
  virtual void ForEachPodWithAffinity(const AffinityPodFn& fn) const {
    ForEachPod([&](const json::Value& pod, const json::Value& node) {
      if (HasPodAffinity(pod)) fn(pod, node, nullptr);
    });
  }
  // Every placed pod that may match `selector` in namespace `ns` (null: any namespace): a
  // superset the caller still checks. A label index makes it cheaper than ForEachPod.
  virtual void ForEachPodMaybeMatching(const std::string* ns, const selector::LabelSelector& /*selector*/,
                                       const PodFn& fn) const {
    ForEachPod([&](const json::Value& pod, const json::Value& node) {
      if (ns == nullptr || pod.GetString({"metadata", "namespace"}) == *ns) fn(pod, node);
    });
  }
  // The placed pods' parsed term lists, each distinct list once: `wants(terms)` says whether to
  // visit it, then `fn` gets each node hosting pods with that list and how many. False when the
  // view keeps no such grouping (the caller walks ForEachPodWithAffinity instead).
  using TermsFn = std::function<bool(const PodAffinityTerms& terms)>;
  using NodeCountFn = std::function<void(const json::Value& node, int64_t pods)>;
  virtual bool ForEachTermGroup(const TermsFn& /*wants*/, const NodeCountFn& /*fn*/) const { return false; }
  // metadata.labels of a namespace; null when it is unknown or has none.
  virtual const json::Value* NamespaceLabels(const std::string& ns) const = 0;

  static bool HasPodAffinity(const json::Value& pod);
};

// A pod selector as Kubernetes converts a metav1.LabelSelector: an absent selector selects
// nothing (nullopt), an empty one everything. `match_label_keys` adds `key in (owner's value)`
// and `mismatch_label_keys` adds `key notin (owner's value)` for each key the owner carries, as
// the apiserver merges them. kInvalidArgument on a malformed selector.
absl::StatusOr<std::optional<selector::LabelSelector>> PodSelectorOf(const json::Value* label_selector,
                                                                     const json::Value& owner,
                                                                     const json::Value* match_label_keys = nullptr,
                                                                     const json::Value* mismatch_label_keys = nullptr);

}  // namespace berth::controllers::builtin
