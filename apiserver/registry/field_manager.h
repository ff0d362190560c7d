#pragma once
// File: apiserver/registry/field_manager.h
// Server-side apply's field ownership (metadata.managedFields), simplified where it says so:
// * an applied configuration owns its leaf fields: object members are followed down, while a list
//   or a scalar is one field (Kubernetes tracks list items by their merge keys; we own a list whole);
// * applying a field another applier owns, with a different value, is a conflict (409) naming the
//   manager and the field, unless `force` (then ownership moves);
// * a field the manager applied before and no longer applies is removed when nobody else owns it;
// * only Apply operations record ownership (Kubernetes also records Update operations).
// managedFields entries use Kubernetes' FieldsV1 shape ({"f:spec":{"f:replicas":{}}}).

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/json/value.h"

namespace berth::apiserver::registry {

struct ApplyRequest {
  std::string manager;
  bool force = false;
  std::string api_version;
  absl::Time now;
};

// The object after applying `config` over `live` (`live` null: a create). kAborted carries the
// conflict message.
absl::StatusOr<json::Value> ApplyConfiguration(const json::Value* live, const json::Value& config,
                                               const ApplyRequest& request);

}  // namespace berth::apiserver::registry
