#pragma once
// File: apiserver/auth/node/node_authorizer.h
// Kubernetes' Node authorizer (plugin/pkg/auth/authorizer/node): a request from a node identity
// (user system:node:<name> in group system:nodes) may read a Secret, ConfigMap,
// PersistentVolumeClaim or PersistentVolume only by name and only when a pod bound to that node
// uses it (NodeGraph); may touch only its own Lease in kube-node-lease; and otherwise gets what
// Kubernetes' NodeRules grant. Anyone else gets no opinion: the next authorizer (RBAC) decides.
// Which node a node may modify is NodeRestriction's business (server/node_restriction.h).

#include <memory>
#include <string>
#include <vector>

#include "apiserver/auth/authorizer.h"
#include "apiserver/auth/node/node_graph.h"
#include "apiserver/auth/rbac/policy_rule.h"

namespace berth::apiserver::auth::node {

inline constexpr char kNodesGroup[] = "system:nodes";
inline constexpr char kNodeUserPrefix[] = "system:node:";
inline constexpr char kNodeLeaseNamespace[] = "kube-node-lease";

// The node a user speaks for: <name> for system:node:<name> in system:nodes, else "".
std::string NodeNameOf(const UserInfo& user);

class NodeAuthorizer final : public Authorizer {
 public:
  NodeAuthorizer(std::shared_ptr<const NodeGraph> graph, std::vector<rbac::PolicyRule> node_rules)
      : graph_(std::move(graph)), node_rules_(std::move(node_rules)) {}
  Decision Authorize(const Attributes& attributes) const override;

 private:
  Decision ReadThroughGraph(const std::string& node, const Attributes& a) const;
  static Decision Lease(const std::string& node, const Attributes& a);

  std::shared_ptr<const NodeGraph> graph_;
  std::vector<rbac::PolicyRule> node_rules_;
};

}  // namespace berth::apiserver::auth::node
