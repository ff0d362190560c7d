#pragma once
// File: apiserver/server/node_restriction.h
// Kubernetes' NodeRestriction admission (plugin/pkg/admission/noderestriction) for requests from
// a node identity (system:node:<name> in system:nodes): a node may modify only its own Node (and
// neither its taints nor labels outside the kubelet's set once registered), only its own Lease,
// only the status of pods bound to it, delete and evict only those pods, and create only mirror
// pods bound to itself that use no Secret, ConfigMap, claim or ServiceAccount. Refusals are 403
// with upstream's words: `nodes "b" is forbidden: node "a" is not allowed to modify node "b"`.
//
// Two entry points because Berth's registry runs admission on main-resource creates and updates
// only: Validate sees the bodies (create, update), CheckRequest the requests that name their
// object in the path (status, eviction, delete).

#include <memory>

#include "apiserver/auth/authorizer.h"
#include "apiserver/auth/node/node_graph.h"
#include "apiserver/registry/admission/admission_plugin.h"

namespace berth::apiserver::server {

class NodeRestriction final : public registry::AdmissionPlugin {
 public:
  explicit NodeRestriction(std::shared_ptr<const auth::node::NodeGraph> graph) : graph_(std::move(graph)) {}
  absl::Status Validate(const registry::AdmissionAttributes& attrs, const json::Value& object) const override;
  absl::Status CheckRequest(const auth::Attributes& attributes) const;

 private:
  std::shared_ptr<const auth::node::NodeGraph> graph_;
};

}  // namespace berth::apiserver::server
