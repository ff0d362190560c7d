#pragma once
// File: apiserver/auth/rbac/bootstrap_policy.h
// The ClusterRoles and ClusterRoleBindings every Kubernetes cluster starts with
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy), labelled kubernetes.io/bootstrapping:
// rbac-defaults and annotated rbac.authorization.kubernetes.io/autoupdate: "true": the
// apiserver creates them at start and puts back what was changed in them, unless a user set
// that annotation to "false".

#include <vector>

#include "core/json/value.h"

namespace berth::apiserver::auth::rbac {

// The group `berth token create` gives join tokens; bound to TLS bootstrap's roles.
inline constexpr char kJoinTokenGroup[] = "system:bootstrappers:berth:default-node-token";

std::vector<json::Value> BootstrapClusterRoles();
// What a node may do on any object (the Node authorizer narrows Secrets, ConfigMaps, volumes
// and Leases further); also the rules of the ClusterRole system:node.
std::vector<json::Value> NodeRules();
std::vector<json::Value> BootstrapClusterRoleBindings();

}  // namespace berth::apiserver::auth::rbac
