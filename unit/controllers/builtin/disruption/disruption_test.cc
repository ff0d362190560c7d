// The disruption controller's arithmetic (Kubernetes' disruption controller), on plain pods.

#include "controllers/builtin/disruption/disruption_controller.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::controllers::builtin {
namespace {

json::Value J(const std::string& s) { return *json::Parse(s); }

ObjectPtr Pod(const std::string& name, bool ready, bool deleting = false) {
  std::string s = R"({"metadata":{"name":")" + name + R"(","namespace":"default","labels":{"app":"a"})" +
                  (deleting ? R"(,"deletionTimestamp":"2026-01-01T00:00:00Z")" : "") +
                  R"(},"status":{"phase":"Running","conditions":[{"type":"Ready","status":")" + (ready ? "True" : "False") + R"("}]}})";
  return std::make_shared<const json::Value>(J(s));
}

auto NoScale = [](const json::Value&) -> absl::StatusOr<std::pair<std::string, int64_t>> {
  return absl::FailedPreconditionError("found no controllers for pod");
};

TEST(DisruptionTest, MinAvailableCountsReadyPodsNotBeingDeleted) {
  json::Value pdb = J(R"({"metadata":{"name":"a","namespace":"default"},"spec":{"minAvailable":2}})");
  absl::Time now = absl::FromUnixSeconds(1800000000);
  BudgetStatus s = ComputeBudget(pdb, {Pod("a-1", true), Pod("a-2", true), Pod("a-3", true), Pod("a-4", false),
                                       Pod("a-5", true, /*deleting=*/true)},
                                 now, NoScale);
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.expected, 5);
  EXPECT_EQ(s.current_healthy, 3);
  EXPECT_EQ(s.desired_healthy, 2);
  EXPECT_EQ(s.allowed, 1);
}

TEST(DisruptionTest, GrantedEvictionsCountUntilThePodGoesOrTwoMinutesPass) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  std::string recent = FormatRfc3339(now - absl::Seconds(30));
  std::string old = FormatRfc3339(now - absl::Minutes(3));
  json::Value pdb = J(R"({"metadata":{"name":"a","namespace":"default"},"spec":{"minAvailable":1},
                        "status":{"disruptedPods":{"a-1":")" + recent + R"(","a-2":")" + old + R"(","gone":")" + recent + R"("}}})");
  BudgetStatus s = ComputeBudget(pdb, {Pod("a-1", true), Pod("a-2", true)}, now, NoScale);
  EXPECT_EQ(s.current_healthy, 1) << "a-1 was just evicted";
  EXPECT_EQ(s.allowed, 0);
  EXPECT_EQ(json::Serialize(s.disrupted_pods), R"({"a-1":")" + recent + R"("})");
  EXPECT_EQ(s.next_expiry, absl::Seconds(90));
}

TEST(DisruptionTest, PercentagesAndMaxUnavailableUseTheOwnersReplicas) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  auto four_replicas = [](const json::Value&) -> absl::StatusOr<std::pair<std::string, int64_t>> {
    return std::pair<std::string, int64_t>{"ReplicaSet/default/web", 4};
  };
  std::vector<ObjectPtr> pods = {Pod("a-1", true), Pod("a-2", true), Pod("a-3", true)};
  BudgetStatus pct = ComputeBudget(J(R"({"spec":{"minAvailable":"50%"}})"), pods, now, four_replicas);
  EXPECT_EQ((std::vector<int64_t>{pct.expected, pct.desired_healthy, pct.allowed}), (std::vector<int64_t>{4, 2, 1}));
  BudgetStatus max = ComputeBudget(J(R"({"spec":{"maxUnavailable":1}})"), pods, now, four_replicas);
  EXPECT_EQ((std::vector<int64_t>{max.expected, max.desired_healthy, max.allowed}), (std::vector<int64_t>{4, 3, 0}));
  BudgetStatus orphan = ComputeBudget(J(R"({"spec":{"maxUnavailable":1}})"), pods, now, NoScale);
  EXPECT_EQ(orphan.error, "found no controllers for pod");
  EXPECT_EQ(orphan.allowed, 0);
}

}  // namespace
}  // namespace berth::controllers::builtin
