#include "controllers/builtin/scheduler/scheduler.h"
#include "controllers/builtin/scheduler/profile.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::controllers::builtin {
namespace {

json::Value J(const char* s) { return *json::Parse(s); }

json::Value Node(const char* extra = "") {
  std::string s = std::string(R"({"metadata":{"name":"n1","labels":{"zone":"a","size":"8"}},"spec":{)") + extra +
                  R"(},"status":{"allocatable":{"cpu":"2","memory":"4Gi","pods":"3"},"conditions":[{"type":"Ready","status":"True"}]}})";
  return J(s.c_str());
}

json::Value Pod(const char* spec_extra = "") {
  std::string s = std::string(R"({"metadata":{"name":"p"},"spec":{)") + spec_extra +
                  R"("containers":[{"name":"c","resources":{"requests":{"cpu":"500m","memory":"1Gi"}},"ports":[{"containerPort":80,"hostPort":8080}]}]}})";
  return J(s.c_str());
}

// The reasons a node refuses the pod with the given usage, joined for comparison.
std::string FitError(const json::Value& pod, const PodRequests& r, const json::Value& node, int64_t cpu, int64_t memory,
                     int64_t pods, std::multiset<int64_t> ports) {
  NodeUsage used;
  used.cpu = cpu;
  used.memory = memory;
  used.pods = pods;
  used.ports = std::move(ports);
  std::string out;
  for (const std::string& why : FitReasons(pod, r, node, used)) out += (out.empty() ? "" : "; ") + why;
  return out;
}

TEST(SchedulerTest, RequestsSumContainersAndMaxInit) {
  auto pod = J(R"({"spec":{"containers":[{"resources":{"requests":{"cpu":"100m","memory":"1Mi"}}},{"resources":{"requests":{"cpu":"200m"}}}],
                 "initContainers":[{"resources":{"requests":{"cpu":"1"}}}]}})");
  PodRequests r = RequestsOf(pod);
  EXPECT_EQ(r.cpu_milli, 1000);
  EXPECT_EQ(r.memory_milli, 1048576000);
}

TEST(SchedulerTest, FitsAndResourceFilters) {
  json::Value pod = Pod();
  PodRequests r = RequestsOf(pod);
  EXPECT_EQ(FitError(pod, r, Node(), 0, 0, 0, {}), "");
  EXPECT_EQ(FitError(pod, r, Node(), 1600, 0, 0, {}), "Insufficient cpu");
  EXPECT_EQ(FitError(pod, r, Node(), 0, int64_t{4} * 1073741824 * 1000 - 1, 0, {}), "Insufficient memory");
  EXPECT_EQ(FitError(pod, r, Node(), 0, 0, 3000, {}), "Too many pods");
  EXPECT_EQ(FitError(pod, r, Node(), 0, 0, 0, {8080}), "node(s) didn't have free ports for the requested pod ports");
}

TEST(SchedulerTest, EveryRequestedResourceCounts) {
  // A limit without a request requests the limit; init containers count per resource; overhead adds.
  auto pod = J(R"({"spec":{"containers":[{"resources":{"limits":{"nvidia.com/gpu":"1","cpu":"1"},"requests":{"cpu":"200m"}}},
                                         {"resources":{"requests":{"ephemeral-storage":"1Gi","hugepages-2Mi":"4Mi"}}}],
                 "initContainers":[{"resources":{"requests":{"nvidia.com/gpu":"2","cpu":"100m"}}}],
                 "overhead":{"cpu":"50m","memory":"10Mi"}}})");
  PodRequests r = RequestsOf(pod);
  EXPECT_EQ(r.cpu_milli, 250);
  EXPECT_EQ(r.memory_milli, 10485760000);
  EXPECT_EQ(r.scalar["nvidia.com/gpu"], 2000);
  EXPECT_EQ(r.scalar["ephemeral-storage"], int64_t{1073741824} * 1000);
  EXPECT_EQ(r.scalar["hugepages-2Mi"], int64_t{4194304} * 1000);

  auto gpu_pod = J(R"({"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"1"}}}]}})");
  PodRequests g = RequestsOf(gpu_pod);
  // A node that does not advertise the resource has none of it.
  EXPECT_EQ(FitError(gpu_pod, g, Node(), 0, 0, 0, {}), "Insufficient nvidia.com/gpu");
  json::Value gpu_node = J(R"({"metadata":{"name":"g"},"status":{"allocatable":{"cpu":"2","memory":"4Gi","pods":"3","nvidia.com/gpu":"1"},
                              "conditions":[{"type":"Ready","status":"True"}]}})");
  EXPECT_EQ(FitError(gpu_pod, g, gpu_node, 0, 0, 0, {}), "");
  NodeUsage used;
  used.Add(g);
  EXPECT_EQ(ResourceFitReasons(g, NodeAllocatable::Of(gpu_node), used), std::vector<std::string>{"Insufficient nvidia.com/gpu"});
  used.Remove(g);
  EXPECT_EQ(used, NodeUsage{});
  // Every resource short is named, as NodeResourcesFit reports them; ports are checked first.
  json::Value big = Pod();
  PodRequests b = RequestsOf(big);
  b.scalar["example.com/dongle"] = 1000;
  EXPECT_EQ(FitError(big, b, Node(), 1600, int64_t{4} * 1073741824 * 1000, 3000, {}),
            "Too many pods; Insufficient cpu; Insufficient memory; Insufficient example.com/dongle");
  EXPECT_EQ(FitError(big, b, Node(), 1600, 0, 0, {8080}), "node(s) didn't have free ports for the requested pod ports");
}

TEST(SchedulerTest, UnavailableMessageSortsReasonsAsKubernetes) {
  EXPECT_EQ(NoNodesAvailableMessage(5, {{"Insufficient cpu", 3}, {"node(s) were unschedulable", 1}, {"Insufficient memory", 12}}),
            "0/5 nodes are available: 1 node(s) were unschedulable, 12 Insufficient memory, 3 Insufficient cpu.");
  EXPECT_EQ(NoNodesAvailableMessage(0, {}), "0/0 nodes are available.");
}

TEST(SchedulerTest, TaintsTolerationsSelectorsAffinity) {
  json::Value tainted = Node(R"("taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}])");
  json::Value pod = Pod();
  PodRequests r = RequestsOf(pod);
  EXPECT_EQ(FitError(pod, r, tainted, 0, 0, 0, {}), "node(s) had untolerated taint {dedicated: gpu}");
  json::Value tolerant = Pod(R"("tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}],)");
  EXPECT_EQ(FitError(tolerant, r, tainted, 0, 0, 0, {}), "");
  json::Value exists = Pod(R"("tolerations":[{"operator":"Exists"}],)");
  EXPECT_EQ(FitError(exists, r, tainted, 0, 0, 0, {}), "");
  EXPECT_EQ(FitError(Pod(R"("nodeSelector":{"zone":"b"},)"), r, Node(), 0, 0, 0, {}),
            "node(s) didn't match Pod's node affinity/selector");
  EXPECT_EQ(FitError(Pod(R"("nodeSelector":{"zone":"a"},)"), r, Node(), 0, 0, 0, {}), "");
  json::Value affinity = Pod(R"("affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
      {"matchExpressions":[{"key":"size","operator":"Gt","values":["4"]},{"key":"zone","operator":"In","values":["a","c"]}]}]}}},)");
  EXPECT_EQ(FitError(affinity, r, Node(), 0, 0, 0, {}), "");
  json::Value unsched = Node(R"("unschedulable":true)");
  EXPECT_EQ(FitError(pod, r, unsched, 0, 0, 0, {}), "node(s) were unschedulable");
  json::Value notready = J(R"({"metadata":{"name":"n"},"status":{"conditions":[{"type":"Ready","status":"False"}]}})");
  EXPECT_EQ(FitError(pod, r, notready, 0, 0, 0, {}), "node(s) were not ready");
}

// The default profile's score, as the scheduler computes it for one node.
double DefaultScore(const json::Value& pod, const PodRequests& r, const json::Value& node, int64_t cpu, int64_t memory) {
  NodeUsage used;
  used.cpu = cpu;
  used.memory = memory;
  NodeAllocatable a = NodeAllocatable::Of(node);
  return DefaultProfile().Score(ScoreInput{pod, r, node, a, used});
}

TEST(SchedulerTest, ScorePrefersEmptierAndPreferredNodes) {
  json::Value pod = Pod();
  PodRequests r = RequestsOf(pod);
  EXPECT_GT(DefaultScore(pod, r, Node(), 0, 0), DefaultScore(pod, r, Node(), 1000, int64_t{2} * 1073741824 * 1000));
  json::Value pref = Pod(R"("affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
      {"weight":50,"preference":{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}}]}},)");
  // NodeAffinity (weight 2 in the default profile) is scaled over the feasible nodes, not part of
  // the per-node sum: the best match gets 100, as upstream normalizes it.
  EXPECT_DOUBLE_EQ(DefaultScore(pref, r, Node(), 0, 0), DefaultScore(pod, r, Node(), 0, 0));
  SchedulerProfile profile = DefaultProfile();
  EXPECT_TRUE(profile.NormalizedFor(pod).empty()) << "no preferred terms: nothing to scale";
  auto normalized = profile.NormalizedFor(pref);
  ASSERT_EQ(normalized.size(), 1u);
  EXPECT_EQ(normalized[0]->plugin->name(), "NodeAffinity");
  EXPECT_EQ(NormalizedTotals(normalized, {{50}, {25}, {0}}), (std::vector<double>{200, 100, 0}));
  EXPECT_EQ(NormalizedTotals(normalized, {{0}, {0}}), (std::vector<double>{0, 0}));
}

// Node n1 (2 cpu, 4Gi) half used: what each strategy makes of it for a 500m/1Gi pod.
TEST(SchedulerTest, ScoringStrategies) {
  json::Value pod = Pod();
  PodRequests r = RequestsOf(pod);
  json::Value node = Node();
  NodeAllocatable a = NodeAllocatable::Of(node);
  NodeUsage used;
  used.cpu = 1000;
  used.memory = int64_t{2} * 1073741824 * 1000;
  ScoreInput in{pod, r, node, a, used};
  auto score = [&](const std::string& name, const std::string& args) {
    auto parsed = json::Parse(args);
    EXPECT_TRUE(parsed.ok());
    auto plugin = MakeScorePlugin(name, &*parsed);
    EXPECT_TRUE(plugin.ok()) << plugin.status();
    return (*plugin)->Score(in);
  };
  // After placing: cpu 1500/2000 = 75%, memory 3/4 = 75%.
  EXPECT_DOUBLE_EQ(score("NodeResourcesFit", R"({"scoringStrategy":{"type":"LeastAllocated"}})"), 25);
  EXPECT_DOUBLE_EQ(score("NodeResourcesFit", R"({"scoringStrategy":{"type":"MostAllocated"}})"), 75);
  EXPECT_DOUBLE_EQ(score("NodeResourcesFit", R"({"scoringStrategy":{"type":"RequestedToCapacityRatio",
      "requestedToCapacityRatio":{"shape":[{"utilization":0,"score":0},{"utilization":100,"score":10}]}}})"), 75);
  EXPECT_DOUBLE_EQ(score("NodeResourcesFit", R"({"scoringStrategy":{"type":"RequestedToCapacityRatio",
      "requestedToCapacityRatio":{"shape":[{"utilization":0,"score":10},{"utilization":50,"score":0}]}}})"), 0);
  // Weights per resource: only cpu counts.
  EXPECT_DOUBLE_EQ(score("NodeResourcesFit", R"({"scoringStrategy":{"type":"MostAllocated","resources":[{"name":"cpu","weight":1}]}})"), 75);
  EXPECT_DOUBLE_EQ(score("NodeResourcesBalancedAllocation", "{}"), 100);
  json::Value random = J(R"({"scoringStrategy":{"type":"Random"}})");
  EXPECT_FALSE(MakeScorePlugin("NodeResourcesFit", &random).ok());
  EXPECT_FALSE(MakeScorePlugin("NoSuchPlugin", nullptr).ok());
}

TEST(SchedulerTest, ConfigurationProfilesAndTheirErrors) {
  auto config = json::Parse(R"({"apiVersion":"kubescheduler.config.k8s.io/v1","kind":"KubeSchedulerConfiguration",
    "profiles":[{"schedulerName":"default-scheduler"},
                {"schedulerName":"binpack","plugins":{"score":{"disabled":[{"name":"*"}],"enabled":[{"name":"NodeResourcesFit","weight":3}]}},
                 "pluginConfig":[{"name":"NodeResourcesFit","args":{"scoringStrategy":{"type":"MostAllocated"}}}]}]})");
  ASSERT_TRUE(config.ok());
  auto profiles = ParseSchedulerConfiguration(*config);
  ASSERT_TRUE(profiles.ok()) << profiles.status();
  ASSERT_EQ(profiles->size(), 2u);
  EXPECT_EQ((*profiles)[0].score.size(), 3u);
  EXPECT_EQ((*profiles)[0].inter_pod_affinity_weight, 2);
  EXPECT_EQ((*profiles)[0].taint_toleration_weight, 3);
  const SchedulerProfile& binpack = (*profiles)[1];
  EXPECT_EQ(binpack.scheduler_name, "binpack");
  ASSERT_EQ(binpack.score.size(), 1u);
  EXPECT_EQ(binpack.score[0].weight, 3);
  EXPECT_EQ(binpack.inter_pod_affinity_weight, 0);
  EXPECT_EQ(binpack.taint_toleration_weight, 0);

  auto error = [](const std::string& text) {
    auto c = json::Parse(text);
    EXPECT_TRUE(c.ok()) << text;
    auto p = ParseSchedulerConfiguration(*c);
    return p.ok() ? std::string() : std::string(p.status().message());
  };
  const std::string head = R"("apiVersion":"kubescheduler.config.k8s.io/v1","kind":"KubeSchedulerConfiguration")";
  EXPECT_EQ(error("{" + head + R"(,"percentageOfNodesToScore":50})"), "percentageOfNodesToScore: not supported by Berth's scheduler");
  EXPECT_EQ(error("{" + head + R"(,"profiles":[{"plugins":{"filter":{}}}]})"), "profiles[0].plugins.filter: not supported by Berth's scheduler");
  EXPECT_EQ(error("{" + head + R"(,"profiles":[{},{}]})"), "profiles[1].schedulerName: duplicate \"default-scheduler\"");
  EXPECT_EQ(error("{" + head + R"(,"profiles":[{"plugins":{"score":{"enabled":[{"name":"Magic"}]}}}]})"),
            "profiles[0].plugins.score.enabled[0].name: unknown score plugin \"Magic\"");
  EXPECT_NE(error(R"({"apiVersion":"v1","kind":"KubeSchedulerConfiguration"})"), "");
}

}  // namespace
}  // namespace berth::controllers::builtin
