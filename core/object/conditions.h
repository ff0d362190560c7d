#pragma once
// File: core/object/conditions.h
// status.conditions as Kubernetes objects carry them (metav1.Condition and the older per-kind
// condition types): find one, test it, set it keeping lastTransitionTime stable while the
// status holds. Shared by the controllers, the scheduler and the agent.

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/json/value.h"

namespace berth::object {

// The condition of `type` in object.status.conditions, or nullptr.
const json::Value* FindCondition(const json::Value& object, std::string_view type);

// True when that condition exists with status "True".
bool IsConditionTrue(const json::Value& object, std::string_view type);

// Replaces or adds a condition with reason, message and lastUpdateTime (workload conditions);
// lastTransitionTime changes only when the status does. True when anything changed.
bool SetCondition(json::Value& object, std::string_view type, std::string_view status, std::string_view reason,
                  std::string_view message, absl::Time now);

// The lastTransitionTime a condition of `type` with `status` should carry: the one it already
// has when the status is unchanged, else `now` (RFC 3339).
std::string TransitionTime(const json::Value& object, std::string_view type, std::string_view status,
                           const std::string& now);

}  // namespace berth::object
