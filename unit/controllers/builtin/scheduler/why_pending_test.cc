// The why-pending explanation: filter counts, what preemption made of the pod, the queue, the
// largest free slot and a resizing hint.
#include "controllers/builtin/scheduler/why_pending.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"

namespace berth::controllers::builtin {
namespace {

TEST(WhyPendingTest, TooBigForEveryNodeSaysWhatWouldFit) {
  PendingFacts f;
  f.nodes = 5;
  f.filtered = {{"Insufficient cpu", 5}};
  f.preemption_message = "preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod.";
  f.queue_path = "root.eng.team-a";
  f.queue_share = 0.4123;
  f.queue_position = 12;
  f.queue_waiting = 30;
  f.largest_free_node = "n3";
  f.largest_free_cpu = 3000;
  f.largest_free_memory = int64_t{7} * 1024 * 1024 * 1024 * 1000;
  f.request_cpu = 4000;
  EXPECT_EQ(json::Serialize(WhyPending(f)),
            R"({"nodes":5,"filtered":{"Insufficient cpu":5},"preemption":{"result":"NoVictims","message":"preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod."},)"
            R"("queue":{"path":"root.eng.team-a","position":12,"waiting":30,"weightedDominantShare":0.412},)"
            R"("largestFree":{"node":"n3","cpu":"3","memory":"7Gi"},"hint":"request 4 cpu; largest free 3 cpu"})");
}

TEST(WhyPendingTest, QueueAtMaxAndPreemptionResults) {
  PendingFacts f;
  f.nodes = 1;
  f.queue_path = "root.a";
  f.blocked_by = "queue root.a at max: cpu 3/3";
  json::Value v = WhyPending(f);
  EXPECT_EQ(v.GetString({"queue", "blockedBy"}), "queue root.a at max: cpu 3/3");
  EXPECT_EQ(v.GetString({"preemption", "result"}), "NotTried");
  EXPECT_EQ(v.GetString({"hint"}), "its queue is at its max: wait for its pods to finish or raise spec.max");
  EXPECT_EQ(v.Find("largestFree"), nullptr);

  auto result = [](const std::string& message, bool nominated = false) {
    PendingFacts p;
    p.preemption_message = message;
    p.nominated = nominated;
    p.nominated_node = "n1";
    return WhyPending(p).GetString({"preemption", "result"});
  };
  EXPECT_EQ(result("preemption: not eligible due to preemptionPolicy=Never."), "NotEligible");
  EXPECT_EQ(result("preemption: not eligible due to a terminating pod on the nominated node."), "WaitingForVictims");
  EXPECT_EQ(result("preemption: 0/1 nodes are available: 1 would violate PodDisruptionBudget default/a."), "BudgetProtected");
  EXPECT_EQ(result("preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."), "NotHelpful");
  EXPECT_EQ(result("", true), "Nominated");
}

}  // namespace
}  // namespace berth::controllers::builtin
