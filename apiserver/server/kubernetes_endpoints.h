#pragma once
// File: apiserver/server/kubernetes_endpoints.h
// The `kubernetes` Service's endpoints, as kube-apiserver's endpoint reconciler keeps them: with
// --advertise-address, the default/kubernetes EndpointSlice names that address and the
// port the apiserver serves on, so pods on the pod network reach the API through the Service's
// ClusterIP (KUBERNETES_SERVICE_HOST), which each agent's service proxy programs like any other.
// Written at every start (a changed address or port replaces the old one).

#include <string>

#include "absl/status/status.h"
#include "apiserver/registry/registry.h"

namespace berth::apiserver::server {

absl::Status PublishApiServerEndpoints(registry::Registry& registry, const std::string& address, int port);

}  // namespace berth::apiserver::server
