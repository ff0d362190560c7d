#pragma once
// File: apiserver/server/table/jsonpath.h
// The JSONPath subset CustomResourceDefinition printer columns use (as kubectl writes them):
// `.spec.replicas`, `.items[0].name`, `.metadata.labels['app.kubernetes.io/name']`,
// `.status.conditions[?(@.type=="Ready")].status`, `[*]`. Answers every match, in order.

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::apiserver::server::table {

absl::StatusOr<std::vector<const json::Value*>> EvalJsonPath(std::string_view path, const json::Value& root);

}  // namespace berth::apiserver::server::table
