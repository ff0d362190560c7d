#include "kubelet-like-agent/sync/pod_decisions.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

TEST(PodDecisionsTest, CrashLoopBackOffDoublesFromTenSecondsToFiveMinutes) {
  absl::Duration initial = absl::Seconds(10), max = absl::Minutes(5);
  EXPECT_EQ(CrashLoopDelay(0, initial, max), absl::ZeroDuration());
  EXPECT_EQ(CrashLoopDelay(1, initial, max), absl::Seconds(10));
  EXPECT_EQ(CrashLoopDelay(2, initial, max), absl::Seconds(20));
  EXPECT_EQ(CrashLoopDelay(5, initial, max), absl::Seconds(160));
  EXPECT_EQ(CrashLoopDelay(6, initial, max), absl::Minutes(5));
  EXPECT_EQ(CrashLoopDelay(1000, initial, max), absl::Minutes(5));
}

TEST(PodDecisionsTest, RestartPolicies) {
  EXPECT_TRUE(RestartAllowed("Always", 0));
  EXPECT_TRUE(RestartAllowed("Always", 1));
  EXPECT_FALSE(RestartAllowed("OnFailure", 0));
  EXPECT_TRUE(RestartAllowed("OnFailure", 137));
  EXPECT_FALSE(RestartAllowed("Never", 1));
}

TEST(PodDecisionsTest, GracePeriodPrefersTheDeletionsThenTheSpecsThenThirtySeconds) {
  auto pod = [](const char* text) { return *json::Parse(text); };
  EXPECT_EQ(GracePeriod(pod(R"({"spec":{}})")), absl::Seconds(30));
  EXPECT_EQ(GracePeriod(pod(R"({"spec":{"terminationGracePeriodSeconds":5}})")), absl::Seconds(5));
  EXPECT_EQ(GracePeriod(pod(R"({"metadata":{"deletionGracePeriodSeconds":0},"spec":{"terminationGracePeriodSeconds":5}})")),
            absl::ZeroDuration());
  EXPECT_EQ(GracePeriod(pod(R"({"spec":{"terminationGracePeriodSeconds":-3}})")), absl::ZeroDuration());
  EXPECT_TRUE(HostNetwork(pod(R"({"spec":{"hostNetwork":true}})")));
  EXPECT_FALSE(HostNetwork(pod(R"({"spec":{"hostNetwork":"true"}})")));
  EXPECT_FALSE(HostNetwork(pod(R"({"spec":{}})")));
}

TEST(PodDecisionsTest, OnlyChangesThatMatterToTheAgentAskForASync) {
  auto pod = [](const std::string& text) { return *json::Parse(text); };
  json::Value base = pod(R"({"metadata":{"name":"p","uid":"u1","resourceVersion":"5","labels":{"a":"1"}},
                            "spec":{"containers":[{"name":"c","image":"i"}]},"status":{"phase":"Pending"}})");
  // The agent's own status write coming back: new resourceVersion, conditions, container states.
  json::Value echo = pod(R"({"metadata":{"name":"p","uid":"u1","resourceVersion":"6","labels":{"a":"1"}},
                            "spec":{"containers":[{"name":"c","image":"i"}]},
                            "status":{"phase":"Pending","conditions":[{"type":"Ready","status":"False"}]}})");
  EXPECT_FALSE(NeedsSync(base, echo));
  EXPECT_FALSE(NeedsSync(base, base));

  json::Value changed = base;
  changed.Set("spec", *pod(R"({"spec":{"containers":[{"name":"c","image":"j"}]}})").Get({"spec"}));
  EXPECT_TRUE(NeedsSync(base, changed));
  changed = base;
  changed.Set("metadata", *pod(R"({"m":{"name":"p","uid":"u1","labels":{"a":"2"}}})").Get({"m"}));
  EXPECT_TRUE(NeedsSync(base, changed));
  changed = base;
  changed.Set("metadata", *pod(R"({"m":{"name":"p","uid":"u1","labels":{"a":"1"},"annotations":{"x":"y"}}})").Get({"m"}));
  EXPECT_TRUE(NeedsSync(base, changed));
  changed = base;
  changed.Set("metadata", *pod(R"({"m":{"name":"p","uid":"u1","labels":{"a":"1"},
                                       "deletionTimestamp":"2026-12-04T08:00:00Z","deletionGracePeriodSeconds":30}})")
                               .Get({"m"}));
  EXPECT_TRUE(NeedsSync(base, changed));
  // A terminal phase stops the pod's sidecars on the next sync.
  changed = base;
  changed.Set("status", *pod(R"({"s":{"phase":"Succeeded"}})").Get({"s"}));
  EXPECT_TRUE(NeedsSync(base, changed));
}

TEST(PodDecisionsTest, PhaseAsTheKubeletComputesIt) {
  PhaseInputs in{.initialized = true, .restart_policy = "Never", .containers = 2};
  in.running = 2;
  EXPECT_EQ(PodPhase(in), "Running");
  in = {.initialized = true, .restart_policy = "Never", .containers = 2, .terminated = 2};
  EXPECT_EQ(PodPhase(in), "Succeeded");
  in.failed = 1;
  EXPECT_EQ(PodPhase(in), "Failed");
  in.restart_policy = "OnFailure";
  EXPECT_EQ(PodPhase(in), "Running");  // it will be restarted
  in.restart_policy = "Always";
  in.failed = 0;
  EXPECT_EQ(PodPhase(in), "Running");
  in = {.initialized = true, .restart_policy = "Always", .containers = 1, .waiting = 1};
  EXPECT_EQ(PodPhase(in), "Pending");  // nothing ran yet
  in.initialized = false;
  EXPECT_EQ(PodPhase(in), "Pending");
  in.deadline_exceeded = true;
  EXPECT_EQ(PodPhase(in), "Failed");
  in = {.terminal = true, .terminal_phase = "Succeeded", .initialized = true, .containers = 1, .running = 1};
  EXPECT_EQ(PodPhase(in), "Succeeded") << "phases never go back";
}

TEST(PodDecisionsTest, ALostRunningContainerCountsAsEndedUnknown) {
  auto running = json::Parse(R"({"restartCount":2,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}})");
  auto lost = FindLostRun(*running, "2026-01-01T01:00:00Z");
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(lost->runs, 3);
  EXPECT_EQ(lost->terminated.GetString({"reason"}), "ContainerStatusUnknown");
  EXPECT_EQ(lost->terminated.Find("exitCode")->as_int(), 137);
  EXPECT_FALSE(FindLostRun(*json::Parse(R"({"restartCount":0,"state":{"waiting":{}}})"), "now").has_value())
      << "a container that never ran lost nothing";
}

}  // namespace
}  // namespace berth::agent
