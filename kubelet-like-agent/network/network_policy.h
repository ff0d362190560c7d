#pragma once
// File: kubelet-like-agent/network/network_policy.h
// NetworkPolicy enforcement on one node, pure: the policies, pods and namespaces in, the nft
// script of table `ip berth-policy` out. A pod on this node that some policy selects for Ingress
// (Egress) accepts (sends) only what one of those policies' rules allows; established and
// related traffic always passes; traffic between a pod and its own node is never filtered (it
// does not cross the forward hook), as Kubernetes specifies. Peers: podSelector (the policy's
// namespace), namespaceSelector, both, or ipBlock with except; ports by number, range (endPort)
// or name (resolved through the selected pod's container ports for ingress, through the peers'
// for egress). Every pass decides and returns each verdict in one chain per pod, so a packet
// between two pods on the same node meets the sender's egress rules and then the receiver's
// ingress rules.

#include <string>
#include <vector>

#include "core/json/value.h"

namespace berth::agent::network {

std::string PolicyTableScript(const std::vector<const json::Value*>& policies, const std::vector<const json::Value*>& pods,
                              const std::vector<const json::Value*>& namespaces, const std::string& node_name);

}  // namespace berth::agent::network
