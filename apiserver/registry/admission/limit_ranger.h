#pragma once
// File: apiserver/registry/admission/limit_ranger.h
// Kubernetes' LimitRanger admission for pods: a new pod's containers get the namespace's
// LimitRange defaults where they state no request or limit (recorded in the annotation
// kubernetes.io/limit-ranger), then every Container and Pod item's min, max and
// maxLimitRequestRatio are enforced with upstream's messages (403).

#include <memory>

#include "apiserver/registry/admission/admission_plugin.h"

namespace berth::apiserver::registry {

std::shared_ptr<const AdmissionPlugin> LimitRangerAdmission();

}  // namespace berth::apiserver::registry
