// DefaultPreemption's choices on plain inputs: which victims on a node, which node.

#include "controllers/builtin/scheduler/preemption.h"

#include "gtest/gtest.h"

namespace berth::controllers::builtin {
namespace {

RunningPod Running(const std::string& key, int64_t priority, int64_t start, int64_t cpu_milli, bool budget = false) {
  RunningPod p;
  p.key = key;
  p.priority = priority;
  p.start_micros = start;
  p.requests.cpu_milli = cpu_milli;
  if (budget) p.budgets = {0};
  return p;
}

NodeForPreemption Node(const std::string& name, int64_t cpu_milli, const std::vector<RunningPod>& pods) {
  NodeForPreemption n;
  n.name = name;
  n.allocatable.cpu = cpu_milli;
  n.allocatable.memory = int64_t{1} << 50;
  n.allocatable.pods = 110000;
  n.pods = pods;
  for (const RunningPod& p : pods) n.usage.Add(p.requests);
  return n;
}

PodRequests Cpu(int64_t milli) {
  PodRequests r;
  r.cpu_milli = milli;
  return r;
}

std::vector<std::string> Keys(const Victims& v) {
  std::vector<std::string> out;
  for (const RunningPod& p : v.pods) out.push_back(p.key);
  return out;
}

TEST(PreemptionTest, NewestLowerPriorityPodsGoFirstAndTheOldestIsReprieved) {
  // Brief S3: 2 CPU, four 500m pods started one after another; a 1500m pod needs three to go.
  NodeForPreemption n = Node("n", 2000, {Running("l1", 0, 1, 500), Running("l2", 0, 2, 500), Running("l3", 0, 3, 500),
                                         Running("l4", 0, 4, 500)});
  auto v = SelectVictimsOnNode(Cpu(1500), 1000, n);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(Keys(*v), (std::vector<std::string>{"l2", "l3", "l4"}));
  EXPECT_EQ(v->budget_violations, 0);
}

TEST(PreemptionTest, OnlyLowerPrioritiesAreVictimsAndSomeRoomMustResult) {
  NodeForPreemption n = Node("n", 1000, {Running("same", 1000, 1, 600)});
  EXPECT_FALSE(SelectVictimsOnNode(Cpu(600), 1000, n).has_value()) << "equal priority never preempted";
  NodeForPreemption mixed = Node("n", 1000, {Running("high", 2000, 1, 600), Running("low", 0, 2, 300)});
  EXPECT_FALSE(SelectVictimsOnNode(Cpu(600), 1000, mixed).has_value()) << "evicting low alone does not fit";
  auto v = SelectVictimsOnNode(Cpu(300), 1000, mixed);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(Keys(*v), std::vector<std::string>{"low"});
  // A lower-priority pod is evicted before an older pod of a higher (but still lower) priority.
  NodeForPreemption tiers = Node("n", 1000, {Running("mid", 500, 5, 500), Running("low", 100, 1, 500)});
  auto t = SelectVictimsOnNode(Cpu(500), 1000, tiers);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(Keys(*t), std::vector<std::string>{"low"});
}

TEST(PreemptionTest, BudgetProtectedPodsAreReprievedFirst) {
  // "a" is counted by budget 0, which allows no disruption; "b" by none.
  NodeForPreemption n = Node("n", 2000, {Running("a", 0, 1, 1000, /*budget=*/true), Running("b", 0, 2, 1000)});
  auto v = SelectVictimsOnNode(Cpu(1000), 1000, n, {0});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(Keys(*v), std::vector<std::string>{"b"});
  EXPECT_EQ(v->budget_violations, 0);
  auto both = SelectVictimsOnNode(Cpu(2000), 1000, n, {0});
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(both->pods.size(), 2u);
  EXPECT_EQ(both->budget_violations, 1);
  // A budget that allows one disruption: the most important pod it counts takes the allowance,
  // the next one would violate it.
  NodeForPreemption shared = Node("n", 2000, {Running("old", 0, 1, 1000, true), Running("new", 0, 2, 1000, true)});
  auto one = SelectVictimsOnNode(Cpu(1000), 1000, shared, {1});
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(Keys(*one), std::vector<std::string>{"old"});
  EXPECT_EQ(one->budget_violations, 0);
}

TEST(PreemptionTest, NodeChoiceFollowsKubernetesCriteria) {
  auto cand = [](const std::string& node, std::vector<RunningPod> pods, int violations = 0) {
    return Candidate{node, Victims{std::move(pods), violations}};
  };
  // Fewest budget violations first.
  EXPECT_EQ(PickCandidate({cand("a", {Running("x", 0, 1, 1)}, 1), cand("b", {Running("y", 5, 1, 1)})}), 1u);
  // Then the lowest highest-victim priority.
  EXPECT_EQ(PickCandidate({cand("a", {Running("x", 7, 1, 1)}), cand("b", {Running("y", 5, 1, 1), Running("z", 5, 2, 1)})}), 1u);
  // Then the smallest sum of priorities (negative priorities still cost).
  EXPECT_EQ(PickCandidate({cand("a", {Running("x", 5, 1, 1), Running("w", -3, 1, 1)}), cand("b", {Running("y", 5, 1, 1)})}), 1u);
  // Then the fewest victims: here the sums differ only through the count.
  EXPECT_EQ(PickCandidate({cand("a", {Running("x", 0, 1, 1), Running("w", 0, 1, 1)}), cand("b", {Running("y", 0, 1, 1)})}), 1u);
  // Then the latest start among the highest-priority victims (disturb the youngest work).
  EXPECT_EQ(PickCandidate({cand("a", {Running("x", 3, 10, 1)}), cand("b", {Running("y", 3, 20, 1)})}), 1u);
  // All equal: the first.
  EXPECT_EQ(PickCandidate({cand("a", {Running("x", 3, 10, 1)}), cand("b", {Running("y", 3, 10, 1)})}), 0u);
}

TEST(PreemptionTest, CandidateCountAndResolvableReasons) {
  EXPECT_EQ(CandidatesToFind(5), 5u);
  EXPECT_EQ(CandidatesToFind(500), 100u);
  EXPECT_EQ(CandidatesToFind(5000), 500u);
  EXPECT_TRUE(ResolvableByPreemption("Insufficient nvidia.com/gpu"));
  EXPECT_TRUE(ResolvableByPreemption("Too many pods"));
  EXPECT_FALSE(ResolvableByPreemption("node(s) were unschedulable"));
  EXPECT_FALSE(ResolvableByPreemption("node(s) didn't match Pod's node affinity/selector"));
}

}  // namespace
}  // namespace berth::controllers::builtin
