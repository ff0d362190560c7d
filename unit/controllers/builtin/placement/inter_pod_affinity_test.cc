// Inter-pod affinity as Kubernetes' InterPodAffinity plugin tests it: required terms filter,
// the placed pods' anti-affinity filters, preferred terms score.
#include "controllers/builtin/placement/inter_pod_affinity.h"

#include <gtest/gtest.h>

#include "unit/controllers/builtin/placement/fake_cluster.h"

namespace berth::controllers::builtin {
namespace {

using testing::FakeCluster;
using testing::IncomingPod;

constexpr const char* kHost = "kubernetes.io/hostname";

std::string Required(const char* kind, const std::string& selector, const std::string& key,
                     const std::string& extra = "") {
  return std::string(R"({"affinity":{")") + kind + R"(":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":)" +
         selector + R"(,"topologyKey":")" + key + "\"" + extra + "}]}}}";
}

InterPodAffinity Compute(const json::Value& pod, const FakeCluster& cluster) {
  auto state = InterPodAffinity::Compute(pod, cluster);
  EXPECT_TRUE(state.ok()) << state.status();
  return *std::move(state);
}

TEST(InterPodAffinityTest, RequiredAntiAffinityKeepsPodsOffNodesWithMatchingPods) {
  FakeCluster cluster;
  cluster.Node("n1").Node("n2").Pod("n1", "default", R"({"app":"web"})");
  json::Value pod = IncomingPod("default", R"({"app":"web"})", Required("podAntiAffinity", R"({"matchLabels":{"app":"web"}})", kHost));
  InterPodAffinity state = Compute(pod, cluster);
  EXPECT_TRUE(state.filters());
  EXPECT_EQ(state.Filter(cluster.node("n1")), InterPodAffinity::kAntiAffinityRulesNotMatch);
  EXPECT_EQ(state.Filter(cluster.node("n2")), "");
}

TEST(InterPodAffinityTest, RequiredAffinityNeedsAMatchingPodInTheSameZone) {
  FakeCluster cluster;
  cluster.Node("a1", R"({"zone":"a"})").Node("a2", R"({"zone":"a"})").Node("b1", R"({"zone":"b"})").Node("bare");
  cluster.Pod("a1", "default", R"({"app":"db"})");
  json::Value pod = IncomingPod("default", R"({"app":"api"})", Required("podAffinity", R"({"matchLabels":{"app":"db"}})", "zone"));
  InterPodAffinity state = Compute(pod, cluster);
  EXPECT_EQ(state.Filter(cluster.node("a1")), "");
  EXPECT_EQ(state.Filter(cluster.node("a2")), "");  // same zone, other node
  EXPECT_EQ(state.Filter(cluster.node("b1")), InterPodAffinity::kAffinityRulesNotMatch);
  EXPECT_EQ(state.Filter(cluster.node("bare")), InterPodAffinity::kAffinityRulesNotMatch);  // no zone label
}

TEST(InterPodAffinityTest, FirstPodOfAGroupThatSelectsItselfMayGoAnywhereWithTheKey) {
  FakeCluster cluster;
  cluster.Node("a1", R"({"zone":"a"})").Node("bare").Pod("a1", "default", R"({"app":"other"})");
  json::Value pod = IncomingPod("default", R"({"app":"cache"})", Required("podAffinity", R"({"matchLabels":{"app":"cache"}})", "zone"));
  InterPodAffinity state = Compute(pod, cluster);
  EXPECT_EQ(state.Filter(cluster.node("a1")), "");
  EXPECT_EQ(state.Filter(cluster.node("bare")), InterPodAffinity::kAffinityRulesNotMatch);
  // A pod that does not select itself has no such exception.
  json::Value other = IncomingPod("default", R"({"app":"web"})", Required("podAffinity", R"({"matchLabels":{"app":"cache"}})", "zone"));
  EXPECT_EQ(Compute(other, cluster).Filter(cluster.node("a1")), InterPodAffinity::kAffinityRulesNotMatch);
}

TEST(InterPodAffinityTest, PlacedPodsAntiAffinityRefusesTheIncomingPod) {
  FakeCluster cluster;
  cluster.Node("n1", R"({"zone":"a"})").Node("n2", R"({"zone":"a"})").Node("n3", R"({"zone":"b"})");
  cluster.Pod("n1", "default", R"({"app":"loner"})", Required("podAntiAffinity", R"({"matchLabels":{"app":"web"}})", "zone"));
  json::Value web = IncomingPod("default", R"({"app":"web"})", "{}");
  InterPodAffinity state = Compute(web, cluster);
  EXPECT_EQ(state.Filter(cluster.node("n1")), InterPodAffinity::kExistingAntiAffinityNotMatch);
  EXPECT_EQ(state.Filter(cluster.node("n2")), InterPodAffinity::kExistingAntiAffinityNotMatch);
  EXPECT_EQ(state.Filter(cluster.node("n3")), "");
  // A pod the term does not select is not refused.
  EXPECT_FALSE(Compute(IncomingPod("default", R"({"app":"db"})", "{}"), cluster).filters());
}

TEST(InterPodAffinityTest, TermsLookInTheOwnersNamespaceUnlessTold) {
  FakeCluster cluster;
  cluster.Node("n1").Node("n2").Pod("n1", "team-b", R"({"app":"web"})").Namespace("team-b", R"({"tier":"prod"})");
  std::string selector = R"({"matchLabels":{"app":"web"}})";
  // Default: only the incoming pod's namespace.
  json::Value own = IncomingPod("team-a", "{}", Required("podAntiAffinity", selector, kHost));
  EXPECT_EQ(Compute(own, cluster).Filter(cluster.node("n1")), "");
  // Listed namespaces.
  json::Value listed = IncomingPod("team-a", "{}", Required("podAntiAffinity", selector, kHost, R"(,"namespaces":["team-b"])"));
  EXPECT_EQ(Compute(listed, cluster).Filter(cluster.node("n1")), InterPodAffinity::kAntiAffinityRulesNotMatch);
  // An empty namespaceSelector is every namespace; a selector picks by namespace labels.
  json::Value all = IncomingPod("team-a", "{}", Required("podAntiAffinity", selector, kHost, R"(,"namespaceSelector":{})"));
  EXPECT_EQ(Compute(all, cluster).Filter(cluster.node("n1")), InterPodAffinity::kAntiAffinityRulesNotMatch);
  json::Value prod = IncomingPod("team-a", "{}",
                                 Required("podAntiAffinity", selector, kHost, R"(,"namespaceSelector":{"matchLabels":{"tier":"prod"}})"));
  EXPECT_EQ(Compute(prod, cluster).Filter(cluster.node("n1")), InterPodAffinity::kAntiAffinityRulesNotMatch);
  json::Value dev = IncomingPod("team-a", "{}",
                                Required("podAntiAffinity", selector, kHost, R"(,"namespaceSelector":{"matchLabels":{"tier":"dev"}})"));
  EXPECT_EQ(Compute(dev, cluster).Filter(cluster.node("n1")), "");
}

TEST(InterPodAffinityTest, AbsentLabelSelectorSelectsNothing) {
  FakeCluster cluster;
  cluster.Node("n1").Pod("n1", "default", R"({"app":"web"})");
  json::Value pod = IncomingPod("default", "{}",
                                R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":"kubernetes.io/hostname"}]}}})");
  EXPECT_EQ(Compute(pod, cluster).Filter(cluster.node("n1")), "");
}

TEST(InterPodAffinityTest, MatchLabelKeysNarrowTheSelectorToTheOwnersValues) {
  FakeCluster cluster;
  cluster.Node("n1").Node("n2").Pod("n1", "default", R"({"app":"web","rev":"1"})").Pod("n2", "default", R"({"app":"web","rev":"2"})");
  json::Value pod = IncomingPod("default", R"({"app":"web","rev":"2"})",
                                Required("podAntiAffinity", R"({"matchLabels":{"app":"web"}})", kHost, R"(,"matchLabelKeys":["rev"])"));
  InterPodAffinity state = Compute(pod, cluster);
  EXPECT_EQ(state.Filter(cluster.node("n1")), "");  // another revision
  EXPECT_EQ(state.Filter(cluster.node("n2")), InterPodAffinity::kAntiAffinityRulesNotMatch);
  json::Value mismatch = IncomingPod("default", R"({"app":"web","rev":"2"})",
                                     Required("podAntiAffinity", R"({"matchLabels":{"app":"web"}})", kHost, R"(,"mismatchLabelKeys":["rev"])"));
  InterPodAffinity other = Compute(mismatch, cluster);
  EXPECT_EQ(other.Filter(cluster.node("n1")), InterPodAffinity::kAntiAffinityRulesNotMatch);
  EXPECT_EQ(other.Filter(cluster.node("n2")), "");
}

TEST(InterPodAffinityTest, PreferredTermsScoreTheirDomainsAndNormalize) {
  FakeCluster cluster;
  cluster.Node("a1", R"({"zone":"a"})").Node("a2", R"({"zone":"a"})").Node("b1", R"({"zone":"b"})").Node("c1", R"({"zone":"c"})");
  cluster.Pod("a1", "default", R"({"app":"cache"})").Pod("b1", "default", R"({"app":"noisy"})");
  json::Value pod = IncomingPod("default", "{}", R"({"affinity":{
      "podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
        {"weight":10,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"cache"}},"topologyKey":"zone"}}]},
      "podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
        {"weight":5,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"noisy"}},"topologyKey":"zone"}}]}}})");
  InterPodAffinity state = Compute(pod, cluster);
  EXPECT_FALSE(state.filters());
  ASSERT_TRUE(state.scores());
  std::vector<int64_t> scores;
  for (const char* n : {"a1", "a2", "b1", "c1"}) scores.push_back(state.Score(cluster.node(n)));
  EXPECT_EQ(scores, (std::vector<int64_t>{10, 10, -5, 0}));
  NormalizeAffinityScores(scores);
  EXPECT_EQ(scores, (std::vector<int64_t>{100, 100, 0, 33}));
}

TEST(InterPodAffinityTest, PlacedPodsPreferencesScoreTheIncomingPod) {
  FakeCluster cluster;
  cluster.Node("n1").Node("n2");
  cluster.Pod("n1", "default", R"({"app":"db"})", R"({"affinity":{"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
        {"weight":7,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"api"}},"topologyKey":"kubernetes.io/hostname"}}]}}})");
  InterPodAffinity state = Compute(IncomingPod("default", R"({"app":"api"})", "{}"), cluster);
  EXPECT_EQ(state.Score(cluster.node("n1")), 7);
  EXPECT_EQ(state.Score(cluster.node("n2")), 0);
}

TEST(InterPodAffinityTest, EqualScoresNormalizeToZero) {
  std::vector<int64_t> scores = {4, 4, 4};
  NormalizeAffinityScores(scores);
  EXPECT_EQ(scores, (std::vector<int64_t>{0, 0, 0}));
}

TEST(InterPodAffinityTest, MalformedSelectorIsAnError) {
  FakeCluster cluster;
  cluster.Node("n1");
  json::Value pod = IncomingPod("default", "{}",
                                Required("podAntiAffinity", R"({"matchExpressions":[{"key":"app","operator":"Near","values":["x"]}]})", kHost));
  auto state = InterPodAffinity::Compute(pod, cluster);
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.status().message().find("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution"),
            std::string::npos)
      << state.status();
}

}  // namespace
}  // namespace berth::controllers::builtin
