#pragma once
// File: controllers/builtin/common/pods.h
// Pod facts the built-in controllers share: readiness, activity, ownership, and building pods
// from a template.

#include <string>

#include "absl/time/time.h"
#include "core/json/value.h"
#include "core/object/conditions.h"

namespace berth::controllers::builtin {

// The integer at `path`, or `fallback` when absent or not an integer.
int64_t IntAt(const json::Value& v, std::initializer_list<std::string_view> path, int64_t fallback);

bool IsPodActive(const json::Value& pod);  // not Succeeded/Failed, not being deleted
bool IsPodReady(const json::Value& pod);
// Ready for at least min_ready_seconds at `now`.
bool IsPodAvailable(const json::Value& pod, int64_t min_ready_seconds, absl::Time now);
// The uid of the controller ownerReference, or "".
std::string ControllerUid(const json::Value& object);
json::Value OwnerReference(const json::Value& owner, bool controller = true);
// A pod from owner.spec.template (or `template_path` inside it) owned by `owner`.
json::Value PodFromTemplate(const json::Value& owner, const json::Value& pod_template);
// Conditions are shared with every layer (core/object/conditions.h).
using object::FindCondition;
using object::SetCondition;

}  // namespace berth::controllers::builtin
