// Topology spread as Kubernetes' PodTopologySpread plugin tests it: skew against the least
// loaded eligible domain, minDomains, the inclusion policies, and the ScheduleAnyway score.
#include "controllers/builtin/placement/topology_spread.h"

#include <gtest/gtest.h>

#include "unit/controllers/builtin/placement/fake_cluster.h"

namespace berth::controllers::builtin {
namespace {

using testing::FakeCluster;
using testing::IncomingPod;

std::string Spread(const std::string& key, int max_skew, const std::string& when = "DoNotSchedule",
                   const std::string& extra = "", const std::string& pod_extra = "") {
  return R"({"topologySpreadConstraints":[{"maxSkew":)" + std::to_string(max_skew) + R"(,"topologyKey":")" + key +
         R"(","whenUnsatisfiable":")" + when + R"(","labelSelector":{"matchLabels":{"app":"web"}})" + extra + "}]" + pod_extra + "}";
}

TopologySpread Compute(const json::Value& pod, const FakeCluster& cluster) {
  auto state = TopologySpread::Compute(pod, cluster);
  EXPECT_TRUE(state.ok()) << state.status();
  return *std::move(state);
}

// Zones a (2 web pods), b (1 web pod), and a node without a zone label.
FakeCluster TwoZones() {
  FakeCluster cluster;
  cluster.Node("a1", R"({"zone":"a"})").Node("a2", R"({"zone":"a"})").Node("b1", R"({"zone":"b"})").Node("bare");
  cluster.Pod("a1", "default", R"({"app":"web"})").Pod("a2", "default", R"({"app":"web"})").Pod("b1", "default", R"({"app":"web"})");
  return cluster;
}

TEST(TopologySpreadTest, SkewAgainstTheLeastLoadedZone) {
  FakeCluster cluster = TwoZones();
  json::Value pod = IncomingPod("default", R"({"app":"web"})", Spread("zone", 1));
  TopologySpread state = Compute(pod, cluster);
  ASSERT_TRUE(state.filters());
  EXPECT_EQ(state.Filter(cluster.node("a1")), TopologySpread::kConstraintsNotMatch);  // 2 + 1 - 1 = 2 > 1
  EXPECT_EQ(state.Filter(cluster.node("b1")), "");                                   // 1 + 1 - 1 = 1
  EXPECT_EQ(state.Filter(cluster.node("bare")), TopologySpread::kMissingLabel);
  // maxSkew 2 lets zone a take one more.
  EXPECT_EQ(Compute(IncomingPod("default", R"({"app":"web"})", Spread("zone", 2)), cluster).Filter(cluster.node("a1")), "");
}

TEST(TopologySpreadTest, APodOutsideItsOwnSelectorDoesNotCountItself) {
  FakeCluster cluster = TwoZones();
  // 2 + 0 - 1 = 1: allowed.
  EXPECT_EQ(Compute(IncomingPod("default", R"({"app":"other"})", Spread("zone", 1)), cluster).Filter(cluster.node("a1")), "");
}

TEST(TopologySpreadTest, OtherNamespacesAndTerminatingPodsDoNotCount) {
  FakeCluster cluster;
  cluster.Node("a1", R"({"zone":"a"})").Node("b1", R"({"zone":"b"})");
  cluster.Pod("a1", "other", R"({"app":"web"})").Pod("a1", "default", R"({"app":"web"})", "{}", /*terminating=*/true);
  TopologySpread state = Compute(IncomingPod("default", R"({"app":"web"})", Spread("zone", 1)), cluster);
  EXPECT_EQ(state.Filter(cluster.node("a1")), "");
  EXPECT_EQ(state.Filter(cluster.node("b1")), "");
}

TEST(TopologySpreadTest, MinDomainsCountsMissingDomainsAsEmpty) {
  FakeCluster cluster;
  cluster.Node("a1", R"({"zone":"a"})").Node("b1", R"({"zone":"b"})");
  cluster.Pod("a1", "default", R"({"app":"web"})").Pod("b1", "default", R"({"app":"web"})");
  // Two domains, each with one pod: skew 1 + 1 - 1 = 1 passes; with minDomains 3 the minimum
  // is 0 and 1 + 1 - 0 = 2 does not.
  EXPECT_EQ(Compute(IncomingPod("default", R"({"app":"web"})", Spread("zone", 1)), cluster).Filter(cluster.node("a1")), "");
  TopologySpread three = Compute(IncomingPod("default", R"({"app":"web"})", Spread("zone", 1, "DoNotSchedule", R"(,"minDomains":3)")), cluster);
  EXPECT_EQ(three.Filter(cluster.node("a1")), TopologySpread::kConstraintsNotMatch);
  EXPECT_EQ(three.Filter(cluster.node("b1")), TopologySpread::kConstraintsNotMatch);
}

TEST(TopologySpreadTest, NodeAffinityPolicyDecidesWhichDomainsCount) {
  FakeCluster cluster;
  cluster.Node("a1", R"({"zone":"a","disk":"ssd"})").Node("b1", R"({"zone":"b","disk":"ssd"})").Node("c1", R"({"zone":"c"})");
  cluster.Pod("a1", "default", R"({"app":"web"})").Pod("b1", "default", R"({"app":"web"})");
  // Honor (default): zone c is not a domain for a pod that needs ssd, so the minimum is 1.
  std::string honor = Spread("zone", 1, "DoNotSchedule", "", R"(,"nodeSelector":{"disk":"ssd"})");
  EXPECT_EQ(Compute(IncomingPod("default", R"({"app":"web"})", honor), cluster).Filter(cluster.node("a1")), "");
  // Ignore: the empty zone c counts, the minimum is 0.
  std::string ignore = Spread("zone", 1, "DoNotSchedule", R"(,"nodeAffinityPolicy":"Ignore")", R"(,"nodeSelector":{"disk":"ssd"})");
  EXPECT_EQ(Compute(IncomingPod("default", R"({"app":"web"})", ignore), cluster).Filter(cluster.node("a1")),
            TopologySpread::kConstraintsNotMatch);
}

TEST(TopologySpreadTest, NodeTaintsPolicyHonorLeavesOutTaintedDomains) {
  FakeCluster cluster;
  cluster.Node("a1", R"({"zone":"a"})").Node("b1", R"({"zone":"b"})")
      .Node("c1", R"({"zone":"c"})", R"({"taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]})");
  cluster.Pod("a1", "default", R"({"app":"web"})").Pod("b1", "default", R"({"app":"web"})");
  // Ignore (default): the tainted, empty zone c counts: minimum 0.
  EXPECT_EQ(Compute(IncomingPod("default", R"({"app":"web"})", Spread("zone", 1)), cluster).Filter(cluster.node("a1")),
            TopologySpread::kConstraintsNotMatch);
  std::string honor = Spread("zone", 1, "DoNotSchedule", R"(,"nodeTaintsPolicy":"Honor")");
  EXPECT_EQ(Compute(IncomingPod("default", R"({"app":"web"})", honor), cluster).Filter(cluster.node("a1")), "");
}

TEST(TopologySpreadTest, MatchLabelKeysSpreadEachRevisionOnItsOwn) {
  FakeCluster cluster;
  cluster.Node("a1", R"({"zone":"a"})").Node("b1", R"({"zone":"b"})");
  cluster.Pod("a1", "default", R"({"app":"web","rev":"1"})").Pod("a1", "default", R"({"app":"web","rev":"1"})");
  json::Value rev2 = IncomingPod("default", R"({"app":"web","rev":"2"})", Spread("zone", 1, "DoNotSchedule", R"(,"matchLabelKeys":["rev"])"));
  EXPECT_EQ(Compute(rev2, cluster).Filter(cluster.node("a1")), "");
  json::Value rev1 = IncomingPod("default", R"({"app":"web","rev":"1"})", Spread("zone", 1, "DoNotSchedule", R"(,"matchLabelKeys":["rev"])"));
  EXPECT_EQ(Compute(rev1, cluster).Filter(cluster.node("a1")), TopologySpread::kConstraintsNotMatch);
}

TEST(TopologySpreadTest, ScheduleAnywayScoresEmptierDomainsHigher) {
  FakeCluster cluster = TwoZones();
  TopologySpread state = Compute(IncomingPod("default", R"({"app":"web"})", Spread("zone", 1, "ScheduleAnyway")), cluster);
  EXPECT_FALSE(state.filters());
  ASSERT_TRUE(state.scores());
  std::vector<std::optional<int64_t>> raw;
  for (const char* n : {"a1", "b1", "bare"}) raw.push_back(state.Score(cluster.node(n)));
  EXPECT_FALSE(raw[2].has_value());  // no zone label: ignored
  std::vector<int64_t> scores = NormalizeSpreadScores(raw);
  EXPECT_GT(scores[1], scores[0]);
  EXPECT_EQ(scores[1], 100);
  EXPECT_EQ(scores[2], 0);
}

TEST(TopologySpreadTest, NoConstraintsNoWork) {
  FakeCluster cluster = TwoZones();
  json::Value pod = IncomingPod("default", "{}", "{}");
  EXPECT_FALSE(TopologySpread::HasConstraints(pod));
  TopologySpread state = Compute(pod, cluster);
  EXPECT_FALSE(state.filters());
  EXPECT_FALSE(state.scores());
}

}  // namespace
}  // namespace berth::controllers::builtin
