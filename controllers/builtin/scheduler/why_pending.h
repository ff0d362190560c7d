#pragma once
// File: controllers/builtin/scheduler/why_pending.h
// "Why pending", Borg-style (the seed-scheduling brief, 4.8): beyond the PodScheduled message,
// which stays byte-compatible with Kubernetes, a structured explanation the scheduler writes to
// the pod's annotation scheduling.berth.dev/why-pending (on change, at most once per pod per
// 10 s; kubectl describe pod shows it) and serves at /debug/pending/<ns>/<pod>.

#include <cstdint>
#include <map>
#include <string>

#include "core/json/value.h"

namespace berth::controllers::builtin {

inline constexpr const char* kWhyPendingAnnotation = "scheduling.berth.dev/why-pending";

struct PendingFacts {
  size_t nodes = 0;
  std::map<std::string, int> filtered;  // reason -> nodes
  std::string preemption_message;       // the "preemption: ..." suffix, or ""
  bool nominated = false;
  std::string nominated_node;
  std::string queue_path;
  double queue_share = 0;
  int64_t queue_position = 0;  // 1 = next among its queue's waiting pods; 0 = not computed
  int64_t queue_waiting = 0;
  std::string blocked_by;      // its queue's max, a scheduling error
  std::string largest_free_node;
  int64_t largest_free_cpu = -1, largest_free_memory = 0;  // milli
  int64_t request_cpu = 0, request_memory = 0;             // milli
};

// {"nodes":5,"filtered":{"Insufficient cpu":5},"preemption":{"result":"NoVictims",...},
//  "queue":{"path":"root.ns/team-a","position":2,"waiting":3,"weightedDominantShare":0.41,
//  "blockedBy":"..."},"largestFree":{"node":"n3","cpu":"3","memory":"7Gi"},
//  "hint":"request 4 cpu; largest free 3 cpu"}
// position and waiting only when computed (the debug page; the annotation leaves them out).
json::Value WhyPending(const PendingFacts& facts);

}  // namespace berth::controllers::builtin
