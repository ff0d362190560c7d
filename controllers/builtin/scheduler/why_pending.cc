#include "controllers/builtin/scheduler/why_pending.h"

#include <cmath>

#include "core/resource/pod_resources.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

namespace {

// One word for what preemption made of the pod, from the message it left.
std::string PreemptionResult(const PendingFacts& f) {
  if (f.nominated) return "Nominated";
  const std::string& m = f.preemption_message;
  if (m.empty()) return "NotTried";
  if (m.find("preemptionPolicy=Never") != std::string::npos) return "NotEligible";
  if (m.find("terminating pod") != std::string::npos) return "WaitingForVictims";
  if (m.find("would violate PodDisruptionBudget") != std::string::npos) return "BudgetProtected";
  if (m.find("No preemption victims") != std::string::npos) return "NoVictims";
  return "NotHelpful";
}

}  // namespace

json::Value WhyPending(const PendingFacts& f) {
  json::Value out = json::Value::MakeObject();
  out.Set("nodes", static_cast<int64_t>(f.nodes));
  json::Value filtered = json::Value::MakeObject();
  for (const auto& [reason, count] : f.filtered) filtered.Set(reason, static_cast<int64_t>(count));
  out.Set("filtered", std::move(filtered));
  json::Value preemption = json::Value::MakeObject();
  preemption.Set("result", PreemptionResult(f));
  if (f.nominated) preemption.Set("node", f.nominated_node);
  if (!f.preemption_message.empty()) preemption.Set("message", f.preemption_message);
  out.Set("preemption", std::move(preemption));
  json::Value queue = json::Value::MakeObject();
  queue.Set("path", f.queue_path);
  if (f.queue_position > 0) {  // computed on request only (it walks every waiting pod)
    queue.Set("position", f.queue_position);
    queue.Set("waiting", f.queue_waiting);
  }
  queue.Set("weightedDominantShare", std::round(f.queue_share * 1000) / 1000);
  if (!f.blocked_by.empty()) queue.Set("blockedBy", f.blocked_by);
  out.Set("queue", std::move(queue));
  std::string hint;
  if (f.largest_free_cpu >= 0) {
    json::Value free = json::Value::MakeObject();
    free.Set("node", f.largest_free_node);
    free.Set("cpu", resource::FormatMilli(std::max<int64_t>(0, f.largest_free_cpu)));
    free.Set("memory", resource::FormatMilli(std::max<int64_t>(0, f.largest_free_memory), "1Mi"));
    out.Set("largestFree", std::move(free));
    // Borg's resizing guidance: what the largest slot would take.
    if (f.filtered.count("Insufficient cpu") && f.request_cpu > f.largest_free_cpu) {
      hint = StrCat("request ", resource::FormatMilli(f.request_cpu), " cpu; largest free ",
                    resource::FormatMilli(std::max<int64_t>(0, f.largest_free_cpu)), " cpu");
    } else if (f.filtered.count("Insufficient memory") && f.request_memory > f.largest_free_memory) {
      hint = StrCat("request ", resource::FormatMilli(f.request_memory, "1Mi"), " memory; largest free ",
                    resource::FormatMilli(std::max<int64_t>(0, f.largest_free_memory), "1Mi"), " memory");
    }
  }
  if (hint.empty() && !f.blocked_by.empty()) hint = "its queue is at its max: wait for its pods to finish or raise spec.max";
  if (!hint.empty()) out.Set("hint", hint);
  return out;
}

}  // namespace berth::controllers::builtin
