#pragma once
// File: apiserver/registry/kinds/strategies.h
// The per-kind strategies of the built-in kinds.

#include <memory>

#include "apiserver/registry/resource_type.h"

namespace berth::apiserver::registry::kinds {

std::shared_ptr<const Strategy> DefaultStrategy();
std::shared_ptr<const Strategy> PodStrategy();
std::shared_ptr<const Strategy> NamespaceStrategy();
std::shared_ptr<const Strategy> NodeStrategy();
std::shared_ptr<const Strategy> SecretStrategy();
std::shared_ptr<const Strategy> ConfigMapStrategy();
std::shared_ptr<const Strategy> ServiceStrategy();
std::shared_ptr<const Strategy> EndpointSliceStrategy();
std::shared_ptr<const Strategy> NetworkPolicyStrategy();
std::shared_ptr<const Strategy> DeploymentStrategy();
std::shared_ptr<const Strategy> ReplicaSetStrategy();
std::shared_ptr<const Strategy> DaemonSetStrategy();
std::shared_ptr<const Strategy> JobStrategy();
std::shared_ptr<const Strategy> CronJobStrategy();
std::shared_ptr<const Strategy> PriorityClassStrategy();
std::shared_ptr<const Strategy> PodDisruptionBudgetStrategy();
std::shared_ptr<const Strategy> ResourceQuotaStrategy();
std::shared_ptr<const Strategy> LimitRangeStrategy();
std::shared_ptr<const Strategy> QueueStrategy();
std::shared_ptr<const Strategy> RbacRoleStrategy();
std::shared_ptr<const Strategy> RbacClusterRoleStrategy();
std::shared_ptr<const Strategy> RbacRoleBindingStrategy();
std::shared_ptr<const Strategy> RbacClusterRoleBindingStrategy();
std::shared_ptr<const Strategy> CertificateSigningRequestStrategy();

}  // namespace berth::apiserver::registry::kinds
