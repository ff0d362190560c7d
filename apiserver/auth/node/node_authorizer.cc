#include "apiserver/auth/node/node_authorizer.h"

#include "core/strings/strings.h"

namespace berth::apiserver::auth::node {

std::string NodeNameOf(const UserInfo& user) {
  constexpr std::string_view kPrefix = kNodeUserPrefix;
  if (!user.InGroup(kNodesGroup) || user.name.rfind(kPrefix, 0) != 0) return "";
  return user.name.substr(kPrefix.size());
}

// Upstream's authorizeReadNamespacedObject/authorizeGet and their reasons: a node reads these
// kinds one object at a time, and only what its pods use.
Decision NodeAuthorizer::ReadThroughGraph(const std::string& node, const Attributes& a) const {
  const bool volume = a.resource == "persistentvolumes";
  const bool get_only = volume || a.resource == "persistentvolumeclaims";
  if (get_only) {
    if (a.verb != "get") return {Decision::kNoOpinion, "can only get individual resources of this type"};
    if (!a.subresource.empty()) return {Decision::kNoOpinion, "cannot get subresource"};
  } else {
    if (a.verb != "get" && a.verb != "list" && a.verb != "watch") {
      return {Decision::kNoOpinion, "can only read resources of this type"};
    }
    if (!a.subresource.empty()) return {Decision::kNoOpinion, "cannot read subresource"};
  }
  if (!volume && a.ns.empty()) return {Decision::kNoOpinion, "can only read namespaced object of this type"};
  if (a.name.empty()) return {Decision::kNoOpinion, "No Object name found"};
  bool related = false;
  if (volume) {
    related = graph_->NodeUsesVolume(node, a.name);
  } else {
    RefKind kind = a.resource == "secrets"      ? RefKind::kSecret
                   : a.resource == "configmaps" ? RefKind::kConfigMap
                                                : RefKind::kClaim;
    related = graph_->NodeUses(node, kind, a.ns, a.name);
  }
  if (!related) return {Decision::kNoOpinion, StrCat("no relationship found between node '", node, "' and this object")};
  return {Decision::kAllow, ""};
}

Decision NodeAuthorizer::Lease(const std::string& node, const Attributes& a) {
  if (a.verb != "get" && a.verb != "create" && a.verb != "update" && a.verb != "patch" && a.verb != "delete") {
    return {Decision::kNoOpinion, "can only get, create, update, patch, or delete a node lease"};
  }
  if (a.ns != kNodeLeaseNamespace) {
    return {Decision::kNoOpinion, StrCat("can only access leases in the \"", kNodeLeaseNamespace, "\" system namespace")};
  }
  if (!a.subresource.empty()) return {Decision::kNoOpinion, "cannot access subresource"};
  // A create names its lease in the body: NodeRestriction checks it there.
  if (a.verb != "create" && a.name != node) {
    return {Decision::kNoOpinion, "can only access node lease with the same name as the requesting node"};
  }
  return {Decision::kAllow, ""};
}

Decision NodeAuthorizer::Authorize(const Attributes& a) const {
  const std::string node = NodeNameOf(a.user);
  if (node.empty()) return {Decision::kNoOpinion, ""};
  if (a.resource_request) {
    if (a.api_group.empty() && (a.resource == "secrets" || a.resource == "configmaps" ||
                                a.resource == "persistentvolumeclaims" || a.resource == "persistentvolumes")) {
      return ReadThroughGraph(node, a);
    }
    if (a.api_group == "coordination.k8s.io" && a.resource == "leases") return Lease(node, a);
    // Upstream's authorizeCreateToken: tokens for the ServiceAccounts its pods run as
    // (NodeRestriction then requires the token to be bound to such a pod).
    if (a.api_group.empty() && a.resource == "serviceaccounts" && !a.subresource.empty()) {
      if (a.verb != "create" || a.name.empty()) {
        return {Decision::kNoOpinion, "can only create tokens for individual service accounts"};
      }
      if (a.subresource != "token") return {Decision::kNoOpinion, "can only create token subresource of serviceaccount"};
      if (!graph_->NodeUses(node, RefKind::kServiceAccount, a.ns, a.name)) {
        return {Decision::kNoOpinion, StrCat("no relationship found between node '", node, "' and this object")};
      }
      return {Decision::kAllow, ""};
    }
  }
  // Everything else is not subdivided by node: Kubernetes' NodeRules decide.
  for (const rbac::PolicyRule& rule : node_rules_) {
    if (rbac::RuleAllows(rule, a)) return {Decision::kAllow, ""};
  }
  return {Decision::kNoOpinion, ""};
}

}  // namespace berth::apiserver::auth::node
