#pragma once
// File: core/patch/strategic_merge.h
// Strategic merge patch for the built-in kinds: a JSON merge patch in which lists named in the
// merge-key table are merged element by element, plus the directives kubectl sends
// ($patch: replace|delete|merge, $setElementOrder/<list>, $retainKeys,
// $deleteFromPrimitiveList/<list>). Lists without a merge key are replaced, as Kubernetes does.
// The table follows the patchMergeKey tags of k8s.io/api for the fields Berth's kinds carry.

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::patch {

absl::StatusOr<json::Value> StrategicMergePatch(const json::Value& target, const json::Value& patch);

}  // namespace berth::patch
