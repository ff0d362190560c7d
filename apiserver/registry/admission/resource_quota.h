#pragma once
// File: apiserver/registry/admission/resource_quota.h
// Kubernetes' ResourceQuota admission: a create that would take a namespace's usage past a
// quota's spec.hard is 403 ("exceeded quota: q, requested: requests.cpu=1, used:
// requests.cpu=2, limited: requests.cpu=2"); otherwise the quota's status.used is raised, under
// the quota's resourceVersion, before the object is stored, so concurrent creates cannot both
// take the last unit. Pods count under every compute name and their scopes; every kind counts
// under count/<resource> (and the legacy names pods, configmaps, secrets, services, ...). The
// quota controller recomputes usage from what exists (frees what deletes release).

#include <memory>

#include "apiserver/registry/admission/admission_plugin.h"

namespace berth::apiserver::registry {

std::shared_ptr<const AdmissionPlugin> ResourceQuotaAdmission(Registry& registry);

}  // namespace berth::apiserver::registry
