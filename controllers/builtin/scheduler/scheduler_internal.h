#pragma once
// File: controllers/builtin/scheduler/scheduler_internal.h
// Small helpers shared by the Scheduler's translation units (scheduler.cc and the files that
// hold its fair-share, preemption and why-pending parts). Not for use outside the scheduler.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/json/value.h"
#include "core/object/conditions.h"

namespace berth::controllers::builtin::scheduler_internal {

inline int64_t PriorityOf(const json::Value& pod) {
  const json::Value* p = pod.Get({"spec", "priority"});
  return p && p->is_int() ? p->as_int() : 0;
}

// API answers a scheduler write may meet and shrug off: the pod is gone, or changed under it.
inline bool Ignorable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kNotFound || s.code() == absl::StatusCode::kAborted;
}

// Reclaiming a guarantee never evicts pods of the system priority classes.
inline constexpr int64_t kSystemPriorityFloor = 2000000000;

inline constexpr const char* kPodScheduled = "PodScheduled";

// Sets PodScheduled as the scheduler reports it (no lastUpdateTime, as upstream).
inline bool SetScheduledCondition(json::Value& pod, const std::string& reason, const std::string& message,
                                  absl::Time now) {
  if (!object::SetCondition(pod, kPodScheduled, "False", reason, message, now)) return false;
  if (json::Value* c = const_cast<json::Value*>(object::FindCondition(pod, kPodScheduled))) c->Erase("lastUpdateTime");
  return true;
}

}  // namespace berth::controllers::builtin::scheduler_internal
