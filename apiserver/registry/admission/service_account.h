#pragma once
// File: apiserver/registry/admission/service_account.h
// Kubernetes' ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a new pod
// runs as spec.serviceAccountName ("default" when unset), which must exist; it inherits the
// ServiceAccount's imagePullSecrets when it names none; and unless automountServiceAccountToken
// is false (the pod's, else the ServiceAccount's) it gets the projected `kube-api-access-xxxxx`
// volume — a bound token refreshed by the agent, the cluster CA and the namespace — mounted
// read-only at /var/run/secrets/kubernetes.io/serviceaccount in every container.
//
// One deviation: a missing `default` ServiceAccount does not refuse the pod (the controller that
// makes it may not have run yet in a namespace created a moment ago); the agent's token request
// waits for it instead.

#include <memory>

#include "apiserver/registry/admission/admission_plugin.h"

namespace berth::apiserver::registry {

inline constexpr char kServiceAccountMountPath[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// `mount_tokens`: whether the server issues tokens (has a signing key); without, pods get their
// ServiceAccount name and pull secrets but no token volume.
std::shared_ptr<const AdmissionPlugin> ServiceAccountAdmission(bool mount_tokens);

}  // namespace berth::apiserver::registry
