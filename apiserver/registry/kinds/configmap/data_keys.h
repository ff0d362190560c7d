#pragma once
// File: apiserver/registry/kinds/configmap/data_keys.h
// The rules Kubernetes applies to ConfigMap and Secret data: every key is a valid file name for
// a volume (IsConfigMapKey), a key appears in data or binaryData but not both, and the whole
// payload is at most 1 MiB (etcd's request limit, which Kubernetes enforces for both kinds).

#include <vector>

#include "core/api/errors.h"
#include "core/json/value.h"

namespace berth::apiserver::registry::kinds {

inline constexpr size_t kMaxDataBytes = 1024 * 1024;

// Causes for `object`'s `data_fields` (e.g. {"data", "binaryData"} for a ConfigMap). Values of
// `base64_fields` count their decoded size.
std::vector<api::Cause> ValidateDataKeys(const json::Value& object, const std::vector<const char*>& data_fields,
                                         const std::vector<const char*>& base64_fields);

// `immutable: true` (ConfigMaps and Secrets): the data fields may not change any more, and
// immutable may not be unset.
std::vector<api::Cause> ValidateImmutableData(const json::Value& object, const json::Value& old,
                                              const std::vector<const char*>& data_fields);

}  // namespace berth::apiserver::registry::kinds
