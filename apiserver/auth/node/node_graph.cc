#include "apiserver/auth/node/node_graph.h"

#include <mutex>
#include <tuple>

#include "core/strings/strings.h"

namespace berth::apiserver::auth::node {
namespace {

std::string Key(const std::string& ns, const std::string& name) { return StrCat(ns, "/", name); }

void ForEach(const json::Value* array, const auto& visit) {
  if (array == nullptr || !array->is_array()) return;
  for (const json::Value& item : array->as_array()) {
    if (item.is_object()) visit(item);
  }
}

}  // namespace

// Every reference a kubelet follows to start the pod, as upstream's graph_populator does.
std::set<NodeGraph::Ref> NodeGraph::RefsOf(const json::Value& pod) {
  std::set<Ref> refs;
  const std::string ns = pod.GetString({"metadata", "namespace"});
  const std::string pod_name = pod.GetString({"metadata", "name"});
  auto add = [&](RefKind kind, const std::string& name) {
    if (!name.empty()) refs.emplace(kind, ns, name);
  };
  const json::Value* spec = pod.Find("spec");
  if (spec == nullptr || !spec->is_object()) return refs;
  add(RefKind::kServiceAccount, spec->GetString({"serviceAccountName"}));
  ForEach(spec->Find("imagePullSecrets"), [&](const json::Value& s) { add(RefKind::kSecret, s.GetString({"name"})); });
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    ForEach(spec->Find(list), [&](const json::Value& c) {
      ForEach(c.Find("env"), [&](const json::Value& e) {
        add(RefKind::kSecret, e.GetString({"valueFrom", "secretKeyRef", "name"}));
        add(RefKind::kConfigMap, e.GetString({"valueFrom", "configMapKeyRef", "name"}));
      });
      ForEach(c.Find("envFrom"), [&](const json::Value& e) {
        add(RefKind::kSecret, e.GetString({"secretRef", "name"}));
        add(RefKind::kConfigMap, e.GetString({"configMapRef", "name"}));
      });
    });
  }
  ForEach(spec->Find("volumes"), [&](const json::Value& v) {
    add(RefKind::kSecret, v.GetString({"secret", "secretName"}));
    add(RefKind::kConfigMap, v.GetString({"configMap", "name"}));
    add(RefKind::kClaim, v.GetString({"persistentVolumeClaim", "claimName"}));
    if (v.Find("ephemeral") != nullptr) add(RefKind::kClaim, StrCat(pod_name, "-", v.GetString({"name"})));
    for (const char* plugin : {"csi", "flexVolume", "cephfs", "rbd", "iscsi", "scaleIO", "storageos", "azureFile"}) {
      const json::Value* source = v.Find(plugin);
      if (source == nullptr || !source->is_object()) continue;
      for (const char* field : {"nodePublishSecretRef", "secretRef"}) add(RefKind::kSecret, source->GetString({field, "name"}));
      add(RefKind::kSecret, source->GetString({"secretName"}));
    }
    ForEach(v.Get({"projected", "sources"}), [&](const json::Value& s) {
      add(RefKind::kSecret, s.GetString({"secret", "name"}));
      add(RefKind::kConfigMap, s.GetString({"configMap", "name"}));
    });
  });
  return refs;
}

void NodeGraph::Unlink(const Pod& pod) {
  auto node = node_refs_.find(pod.node);
  if (node == node_refs_.end()) return;
  for (const Ref& ref : pod.refs) {
    auto it = node->second.find(ref);
    if (it != node->second.end() && --it->second <= 0) node->second.erase(it);
  }
  if (node->second.empty()) node_refs_.erase(node);
}

void NodeGraph::Observe(const std::string& kind, const json::Value& object, bool removed) {
  const std::string key = Key(object.GetString({"metadata", "namespace"}), object.GetString({"metadata", "name"}));
  std::unique_lock lock(mu_);
  if (kind == "PersistentVolumeClaim") {
    const std::string volume = object.GetString({"spec", "volumeName"});
    if (removed || volume.empty()) {
      claim_volumes_.erase(key);
    } else {
      claim_volumes_[key] = volume;
    }
    return;
  }
  if (kind != "Pod") return;
  if (auto it = pods_.find(key); it != pods_.end()) {
    Unlink(it->second);
    pods_.erase(it);
  }
  if (removed) return;
  const std::string node = object.GetString({"spec", "nodeName"});
  Pod pod{node, {}};
  if (!node.empty()) {
    pod.refs = RefsOf(object);
    std::map<Ref, int>& refs = node_refs_[node];
    for (const Ref& ref : pod.refs) ++refs[ref];
  }
  pods_.emplace(key, std::move(pod));
}

std::optional<std::string> NodeGraph::PodNode(const std::string& ns, const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = pods_.find(Key(ns, name));
  if (it == pods_.end()) return std::nullopt;
  return it->second.node;
}

bool NodeGraph::NodeUses(const std::string& node, RefKind kind, const std::string& ns, const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = node_refs_.find(node);
  return it != node_refs_.end() && it->second.contains(Ref{kind, ns, name});
}

bool NodeGraph::NodeUsesVolume(const std::string& node, const std::string& pv) const {
  std::shared_lock lock(mu_);
  auto it = node_refs_.find(node);
  if (it == node_refs_.end()) return false;
  for (const auto& [ref, count] : it->second) {
    const auto& [kind, ns, name] = ref;
    if (kind != RefKind::kClaim) continue;
    auto volume = claim_volumes_.find(Key(ns, name));
    if (volume != claim_volumes_.end() && volume->second == pv) return true;
  }
  return false;
}

}  // namespace berth::apiserver::auth::node
