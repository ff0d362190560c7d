#pragma once
// File: core/patch/patch.h
// JSON merge patch (RFC 7386) and JSON patch (RFC 6902, `test` included). Both leave `target`
// untouched on error: they work on a copy and return it.

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::patch {

json::Value MergePatch(const json::Value& target, const json::Value& patch);

// Bounds of a JSON patch, as Kubernetes has them: at most this many operations, and `copy`
// operations adding at most this many bytes in all (the request body limit).
inline constexpr size_t kMaxJsonPatchOperations = 10000;
inline constexpr size_t kMaxAccumulatedCopyBytes = 3 * 1024 * 1024;

// kInvalidArgument with the failing operation's index and path for bad operations, missing
// paths or a failed `test`, and for patches past the bounds above.
absl::StatusOr<json::Value> JsonPatch(const json::Value& target, const json::Value& operations);

// Computes a merge patch that turns `from` into `to` (used by tests and clients).
json::Value CreateMergePatch(const json::Value& from, const json::Value& to);

}  // namespace berth::patch
