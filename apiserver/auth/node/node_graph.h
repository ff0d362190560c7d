#pragma once
// File: apiserver/auth/node/node_graph.h
// Which objects each node may reach, as Kubernetes' Node authorizer graph holds them
// (plugin/pkg/auth/authorizer/node/graph.go): a pod bound to a node (spec.nodeName) links that
// node to the Secrets, ConfigMaps, PersistentVolumeClaims and ServiceAccount the pod uses, and a
// bound claim links on to its PersistentVolume. Followed through the registry's commit observer
// (and loaded once at start), so a decision never reads the store.

#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <tuple>

#include "core/json/value.h"

namespace berth::apiserver::auth::node {

enum class RefKind { kSecret, kConfigMap, kClaim, kServiceAccount };

class NodeGraph {
 public:
  // `kind` is Pod or PersistentVolumeClaim; other kinds are ignored.
  void Observe(const std::string& kind, const json::Value& object, bool removed);

  // The node a pod is bound to ("" while unbound); nullopt when the pod is unknown.
  std::optional<std::string> PodNode(const std::string& ns, const std::string& name) const;
  // Whether a pod bound to `node` uses the object (secret, configmap, claim or serviceaccount).
  bool NodeUses(const std::string& node, RefKind kind, const std::string& ns, const std::string& name) const;
  // Whether a claim used by a pod on `node` is bound to the PersistentVolume `pv`.
  bool NodeUsesVolume(const std::string& node, const std::string& pv) const;

 public:
  using Ref = std::tuple<RefKind, std::string, std::string>;  // kind, namespace, name
  // Every object a pod uses: what its node may read once it is bound there.
  static std::set<Ref> RefsOf(const json::Value& pod);

 private:
  struct Pod {
    std::string node;
    std::set<Ref> refs;
  };
  void Unlink(const Pod& pod);  // with mu_ held exclusively

  mutable std::shared_mutex mu_;
  std::map<std::string, Pod> pods_;                         // "ns/name" -> its node and uses
  std::map<std::string, std::map<Ref, int>> node_refs_;     // node -> object -> pods using it
  std::map<std::string, std::string> claim_volumes_;        // "ns/claim" -> spec.volumeName
};

}  // namespace berth::apiserver::auth::node
