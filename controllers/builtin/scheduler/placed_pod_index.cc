#include "controllers/builtin/scheduler/placed_pod_index.h"

#include "core/json/codec.h"

namespace berth::controllers::builtin {

namespace {

std::string LabelKey(const std::string& ns, const std::string& key, const std::string& value) {
  std::string out = ns;
  out.push_back('\0');
  out += key;
  out.push_back('\0');
  out += value;
  return out;
}

const json::Value* LabelsOf(const ObjectPtr& o) { return o ? o->Get({"metadata", "labels"}) : nullptr; }

bool SameLabels(const ObjectPtr& a, const ObjectPtr& b) {
  const json::Value* x = LabelsOf(a);
  const json::Value* y = LabelsOf(b);
  return (x == nullptr && y == nullptr) || (x && y && *x == *y);
}

}  // namespace

std::shared_ptr<const PodAffinityTerms> PlacedPodIndex::Intern(const json::Value& pod) {
  if (!ClusterView::HasPodAffinity(pod)) return nullptr;
  // Terms depend on the pod's namespace, its affinity, and (matchLabelKeys) its labels.
  std::string affinity = json::Serialize(*pod.Get({"spec", "affinity"}));
  std::string signature = pod.GetString({"metadata", "namespace"}) + '\0' + affinity;
  if (affinity.find("LabelKeys") != std::string::npos) {
    if (const json::Value* labels = pod.Get({"metadata", "labels"})) signature += '\0' + json::Serialize(*labels);
  }
  if (auto it = interned_.find(signature); it != interned_.end()) {
    if (auto shared = it->second.lock()) return shared;
  }
  auto terms = PodAffinityTerms::Of(pod);
  if (!terms.ok() || terms->empty()) return nullptr;  // the apiserver refuses malformed selectors
  auto shared = std::make_shared<const PodAffinityTerms>(std::move(*terms));
  if (interned_.size() > 4 * entries_.size() + 1024) {
    std::erase_if(interned_, [](const auto& kv) { return kv.second.expired(); });
  }
  interned_[signature] = shared;
  return shared;
}

void PlacedPodIndex::Index(const Entry& e, bool add) {
  auto update = [&](std::map<std::string, Set>& index, const std::string& k) {
    if (add) {
      index[k].insert(&e);
    } else if (auto it = index.find(k); it != index.end()) {
      it->second.erase(&e);
      if (it->second.empty()) index.erase(it);
    }
  };
  std::string ns = e.object ? e.object->GetString({"metadata", "namespace"}) : "";
  update(in_namespace_, ns);
  if (e.terms) {
    update(affinity_on_node_, e.node);
    auto& nodes = by_terms_[e.terms.get()];
    if ((nodes[e.node] += add ? 1 : -1) == 0) nodes.erase(e.node);
    if (nodes.empty()) by_terms_.erase(e.terms.get());
  }
  if (const json::Value* labels = LabelsOf(e.object); labels && labels->is_object()) {
    for (const auto& [k, v] : labels->as_object()) {
      if (v.is_string()) update(by_label_, LabelKey(ns, k, v.as_string()));
    }
  }
}

bool PlacedPodIndex::Put(const std::string& key, const std::string& node, ObjectPtr object) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    Entry& e = it->second;
    if (e.node == node && e.object == object) return false;
    bool changed = e.node != node || !SameLabels(e.object, object);
    Index(e, false);
    if (changed) e.terms = Intern(*object);
    e.node = node;
    e.object = std::move(object);
    Index(e, true);
    return changed;
  }
  Entry& e = entries_[key];
  e.node = node;
  e.terms = Intern(*object);
  e.object = std::move(object);
  Index(e, true);
  return true;
}

void PlacedPodIndex::Remove(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Index(it->second, false);
  entries_.erase(it);
}

void PlacedPodIndex::RemoveAllBut(const std::set<std::string>& keep) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (keep.count(it->first)) {
      ++it;
    } else {
      Index(it->second, false);
      it = entries_.erase(it);
    }
  }
}

void PlacedPodIndex::ForEach(const EntryFn& fn) const {
  for (const auto& [key, e] : entries_) fn(e);
}

void PlacedPodIndex::ForEachWithAffinity(const std::function<void(const std::string& node, const Entry&)>& fn) const {
  for (const auto& [node, entries] : affinity_on_node_) {
    for (const Entry* e : entries) fn(node, *e);
  }
}

void PlacedPodIndex::ForEachTermGroup(const std::function<bool(const PodAffinityTerms&)>& wants,
                                      const std::function<void(const std::string& node, int64_t pods)>& fn) const {
  for (const auto& [terms, nodes] : by_terms_) {
    if (!wants(*terms)) continue;
    for (const auto& [node, pods] : nodes) fn(node, pods);
  }
}

void PlacedPodIndex::ForEachMaybeMatching(const std::string* ns, const selector::LabelSelector& selector,
                                          const EntryFn& fn) const {
  if (ns != nullptr) return ForEachMaybeMatchingIn(*ns, selector, fn);
  for (const auto& [name, entries] : in_namespace_) ForEachMaybeMatchingIn(name, selector, fn);
}

void PlacedPodIndex::ForEachMaybeMatchingIn(const std::string& ns, const selector::LabelSelector& selector,
                                            const EntryFn& fn) const {
  // The requirement whose values select the fewest pods; a pod carries one value per key, so
  // the lists of one requirement's values are disjoint.
  std::vector<const Set*> best;
  size_t best_size = 0;
  bool have = false;
  for (const selector::Requirement& r : selector.requirements()) {
    if (r.op != selector::Requirement::Op::kEquals && r.op != selector::Requirement::Op::kIn) continue;
    std::vector<const Set*> lists;
    size_t size = 0;
    for (const std::string& v : r.values) {
      if (auto it = by_label_.find(LabelKey(ns, r.key, v)); it != by_label_.end()) {
        lists.push_back(&it->second);
        size += it->second.size();
      }
    }
    if (!have || size < best_size) best = std::move(lists), best_size = size, have = true;
  }
  if (have) {
    for (const Set* s : best) {
      for (const Entry* e : *s) fn(*e);
    }
    return;
  }
  if (auto it = in_namespace_.find(ns); it != in_namespace_.end()) {
    for (const Entry* e : it->second) fn(*e);
  }
}

}  // namespace berth::controllers::builtin
