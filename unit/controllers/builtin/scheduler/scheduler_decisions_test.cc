// The scheduler's decisions through the real API, one reconcile at a time (decisions_fixture.h).

#include <memory>
#include <string>

#include "controllers/builtin/scheduler/scheduler.h"
#include "core/strings/strings.h"
#include "unit/controllers/builtin/decisions_fixture.h"

namespace berth::controllers::builtin {
namespace {

// Every test here: the pod and node informers, synced, and one scheduler over them (one worker,
// no resync: the test drives it). The informers stop first, before the handlers they call.
class SchedulerDecisionsTest : public DecisionsTest {
 protected:
  void SetUp() override {
    DecisionsTest::SetUp();
    pods_ = std::make_unique<Informer>(*api_, client::resources::kPods);
    nodes_ = std::make_unique<Informer>(*api_, client::resources::kNodes);
    scheduler_ = std::make_unique<Scheduler>(*api_, *pods_, *nodes_, clock_, 1, absl::ZeroDuration());
    Start({pods_.get(), nodes_.get()});
  }
  void TearDown() override {
    for (Informer* i : {pods_.get(), nodes_.get()}) {
      if (i != nullptr) i->Stop();
    }
    scheduler_.reset();
    pods_.reset();
    nodes_.reset();
    DecisionsTest::TearDown();
  }

  std::unique_ptr<Informer> pods_;
  std::unique_ptr<Informer> nodes_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerDecisionsTest, SchedulerUsageResyncRepairsAMissedEvent) {
  Scheduler& scheduler = *scheduler_;  // its usage resync driven by the test
  ASSERT_TRUE(api_->Create(res::kPods, "default", J(R"({"metadata":{"name":"placed"},"spec":{"nodeName":"n1",
      "containers":[{"name":"c","image":"host","resources":{"requests":{"cpu":"250m"}}}]}})")).ok());
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("n1") == std::pair<int64_t, int64_t>{250, 1000}; }));
  EXPECT_EQ(scheduler.ResyncUsage(), 0u) << "nothing to correct";
  scheduler.ForgetPlacementForTest("default/placed");  // as if the informer event had been lost
  EXPECT_EQ(scheduler.UsageForTest("n1"), (std::pair<int64_t, int64_t>{0, 0}));
  EXPECT_EQ(scheduler.ResyncUsage(), 1u);
  EXPECT_EQ(scheduler.UsageForTest("n1"), (std::pair<int64_t, int64_t>{250, 1000}));
}

// Brief S12: a node that does not advertise an extended resource has none of it; once its
// operator patches node status to advertise it, the pod binds.
TEST_F(SchedulerDecisionsTest, SchedulerCountsExtendedResources) {
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(res::kNodes, "", J(R"({"metadata":{"name":"plain"},"status":{
      "allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}})")).ok());
  // The two informers watch separately: a pod seen before the node would be judged against
  // no nodes at all ("0/0 nodes are available"), which is not what this test is about.
  ASSERT_TRUE(Eventually([&] { return nodes.List().size() == 1; }));
  ASSERT_TRUE(api_->Create(res::kPods, "default", J(R"({"metadata":{"name":"gpu"},"spec":{
      "containers":[{"name":"c","image":"host","resources":{"limits":{"nvidia.com/gpu":"1"}}}]}})")).ok());
  // The informer calls the scheduler's handler after its cache has the pod: drain until decided.
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    auto p = api_->Get(res::kPods, "default", "gpu");
    return p.ok() && p->Get({"status", "conditions"}) != nullptr;
  }));
  auto pod = api_->Get(res::kPods, "default", "gpu");
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(pod->GetString({"spec", "nodeName"}), "");
  std::string message;
  for (const json::Value& c : pod->Get({"status", "conditions"})->as_array()) {
    if (c.GetString({"type"}) == "PodScheduled") message = c.GetString({"message"});
  }
  EXPECT_EQ(message, "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.");

  ASSERT_TRUE(api_->Patch(res::kNodes, "", "plain", J(R"({"status":{"capacity":{"nvidia.com/gpu":"1"},
      "allocatable":{"nvidia.com/gpu":"1"}}})"), "application/merge-patch+json", "status").ok());
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    auto p = api_->Get(res::kPods, "default", "gpu");
    return p.ok() && p->GetString({"spec", "nodeName"}) == "plain";
  }));
}

json::Value SchedulableNode(const std::string& name, const std::string& cpu) {
  return J(R"({"metadata":{"name":")" + name + R"(","labels":{"kubernetes.io/hostname":")" + name + R"("}},"status":{
      "allocatable":{"cpu":")" + cpu + R"(","memory":"8Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}})");
}

json::Value PodAsking(const std::string& name, const std::string& cpu, const std::string& labels = "{}",
                      const std::string& extra = "", const std::string& node = "") {
  return J(R"({"metadata":{"name":")" + name + R"(","labels":)" + labels + R"(},"spec":{)" +
           (node.empty() ? "" : R"("nodeName":")" + node + R"(",)") + extra +
           R"("containers":[{"name":"c","image":"host","resources":{"requests":{"cpu":")" + cpu + R"("}}}]}})");
}

std::string NodeOf(client::ApiClient& api, const std::string& pod) {
  auto p = api.Get(res::kPods, "default", pod);
  return p.ok() ? p->GetString({"spec", "nodeName"}) : "";
}

// Creates the pod and runs the scheduler until it is bound: the node it went to ("" if none).
std::string ScheduleOne(client::ApiClient& api, Scheduler& scheduler, const json::Value& pod) {
  std::string name = pod.GetString({"metadata", "name"});
  EXPECT_TRUE(api.Create(res::kPods, "default", pod).ok()) << name;
  EXPECT_TRUE(testing::Eventually([&] {
    while (scheduler.controller().ProcessOneForTest()) {
    }
    return !NodeOf(api, name).empty();
  })) << name;
  return NodeOf(api, name);
}

// A pod asking one CPU, nominated to `node` by another instance (published in status), which
// this scheduler adopts once its cache has it; then run until its first refusal is written.
void CreateRefusedNominee(client::ApiClient& api, Informer& pods, Scheduler& scheduler, const std::string& name,
                          const std::string& node, const std::string& extra = "") {
  auto created = api.Create(res::kPods, "default", PodAsking(name, "1", "{}", extra));
  ASSERT_TRUE(created.ok()) << created.status();
  created->Ensure({"status"}).Set("nominatedNodeName", node);
  ASSERT_TRUE(api.UpdateStatus(res::kPods, *created).ok());
  ASSERT_TRUE(testing::Eventually([&] {
    auto p = pods.Get("default/" + name);
    return p && !p->GetString({"status", "nominatedNodeName"}).empty();
  }));
  ASSERT_TRUE(testing::Eventually([&] {
    while (scheduler.controller().ProcessOneForTest()) {
    }
    auto p = api.Get(res::kPods, "default", name);
    return p.ok() && p->Get({"status", "conditions"}) != nullptr;
  }));
}

// Every feasible node found is scored before one is chosen (least allocated wins), wherever the
// rotating scan starts.
TEST_F(SchedulerDecisionsTest, SchedulerChoosesTheBestScoredNodeNotTheFirstThatFits) {
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("a-busy", "4")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("b-empty", "4")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("hog", "3500m", "{}", "", "a-busy")).ok());
  // Both nodes in the node cache too: the hog's usage comes from the other informer.
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("a-busy").first == 3500 && nodes.List().size() == 2; }));
  for (int i = 0; i < 4; ++i) {
    std::string name = "small-" + std::to_string(i);
    EXPECT_EQ(ScheduleOne(*api_, scheduler, PodAsking(name, "100m")), "b-empty") << name;
  }
}

// TaintToleration: a PreferNoSchedule taint the pod does not tolerate outweighs a busier node
// (weight 3 against the resource scores, as upstream); a pod tolerating it goes by resources.
TEST_F(SchedulerDecisionsTest, SchedulerAvoidsPreferNoScheduleTaintsItDoesNotTolerate) {
  Scheduler& scheduler = *scheduler_;
  json::Value tainted = SchedulableNode("a-tainted-empty", "4");
  tainted.Ensure({"spec"}).Set("taints", J(R"([{"key":"spot","value":"yes","effect":"PreferNoSchedule"}])"));
  ASSERT_TRUE(api_->Create(res::kNodes, "", tainted).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("b-busy", "4")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("hog", "3", "{}", "", "b-busy")).ok());
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("b-busy").first == 3000; }));
  auto place = [&](const std::string& name, const std::string& extra) {
    return ScheduleOne(*api_, scheduler, PodAsking(name, "100m", "{}", extra));
  };
  EXPECT_EQ(place("plain", ""), "b-busy");
  EXPECT_EQ(place("tolerant", R"("tolerations":[{"key":"spot","operator":"Exists","effect":"PreferNoSchedule"}],)"),
            "a-tainted-empty");
  // Tolerating another taint does not help.
  EXPECT_EQ(place("other", R"("tolerations":[{"key":"gpu","operator":"Exists"}],)"), "b-busy");
}

// NodeAffinity's preferred terms are scaled over the feasible nodes (the best match scores 100,
// weight 2): even a weight-10 preference outweighs a busier node, as upstream; unscaled, the
// emptier node would win.
TEST_F(SchedulerDecisionsTest, SchedulerScalesPreferredNodeAffinityOverTheFeasibleNodes) {
  Scheduler& scheduler = *scheduler_;
  json::Value preferred = SchedulableNode("a-preferred-busy", "4");
  preferred["metadata"]["labels"].Set("zone", "a");
  ASSERT_TRUE(api_->Create(res::kNodes, "", preferred).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("b-empty", "4")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("hog", "3", "{}", "", "a-preferred-busy")).ok());
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("a-preferred-busy").first == 3000; }));
  EXPECT_EQ(ScheduleOne(*api_, scheduler, PodAsking("likes-a", "100m", "{}", R"("affinity":{"nodeAffinity":{
      "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":10,"preference":{"matchExpressions":[
      {"key":"zone","operator":"In","values":["a"]}]}}]}},)")),
            "a-preferred-busy");
}

// Inter-pod rules through the scheduler's own cache: required anti-affinity refuses, with
// Kubernetes' message; a preferred affinity outweighs a busier node.
TEST_F(SchedulerDecisionsTest, SchedulerHonoursInterPodRules) {
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n1", "4")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n2", "4")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("cache", "2", R"({"app":"cache"})", "", "n1")).ok());
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("n1").first == 2000; }));
  std::string near_cache = R"("affinity":{"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":100,
      "podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"cache"}},"topologyKey":"kubernetes.io/hostname"}}]}},)";
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("client", "100m", "{}", near_cache)).ok());
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return !NodeOf(*api_, "client").empty();
  }));
  EXPECT_EQ(NodeOf(*api_, "client"), "n1");

  std::string apart = R"("affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
      {"labelSelector":{"matchLabels":{"app":"solo"}},"topologyKey":"kubernetes.io/hostname"}]}},)";
  for (const char* name : {"solo-0", "solo-1", "solo-2"}) {
    ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking(name, "100m", R"({"app":"solo"})", apart)).ok());
  }
  std::string message;
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    auto p = api_->Get(res::kPods, "default", "solo-2");
    if (!p.ok() || p->Get({"status", "conditions"}) == nullptr) return false;
    for (const json::Value& c : p->Get({"status", "conditions"})->as_array()) {
      if (c.GetString({"type"}) == "PodScheduled") message = c.GetString({"message"});
    }
    return true;
  }));
  std::set<std::string> used = {NodeOf(*api_, "solo-0"), NodeOf(*api_, "solo-1")};
  EXPECT_EQ(used, (std::set<std::string>{"n1", "n2"}));
  EXPECT_EQ(NodeOf(*api_, "solo-2"), "");
  EXPECT_EQ(message, "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: 0/2 nodes are "
                     "available: 2 No preemption victims found for incoming pod.");
}

// Brief S2: with one worker, the queue hands out the higher-priority pod first when a cordoned
// node opens, so it gets the room and the older, lower-priority pod waits.
TEST_F(SchedulerDecisionsTest, SchedulerQueueOrdersByPriorityThenAge) {
  Informer& pods = *pods_;
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(client::Resource{"scheduling.k8s.io", "v1", "priorityclasses", false, "PriorityClass"}, "",
                           J(R"({"metadata":{"name":"high"},"value":1000})")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", J(R"({"metadata":{"name":"n1"},"spec":{"unschedulable":true},"status":{
      "allocatable":{"cpu":"1","memory":"8Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}})")).ok());
  auto pod = [](const char* name, const char* spec_extra) {
    return J(std::string(R"({"metadata":{"name":")") + name + R"("},"spec":{)" + spec_extra +
             R"("containers":[{"name":"c","image":"host","resources":{"requests":{"cpu":"600m"}}}]}})");
  };
  ASSERT_TRUE(api_->Create(res::kPods, "default", pod("a-low", "")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", pod("b-high", R"("priorityClassName":"high",)")).ok());
  ASSERT_TRUE(Eventually([&] { return pods.Get("default/a-low") && pods.Get("default/b-high") && nodes.Get("n1"); }));
  auto unschedulable = [&](const char* name) {
    auto p = api_->Get(res::kPods, "default", name);
    const json::Value* conds = p.ok() ? p->Get({"status", "conditions"}) : nullptr;
    return conds && conds->size() > 0 && conds->as_array()[0].GetString({"reason"}) == "Unschedulable";
  };
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return unschedulable("a-low") && unschedulable("b-high");
  }));
  // Let the status writes come back through the informer, so both are queued from one event.
  ASSERT_TRUE(Eventually([&] {
    auto l = pods.Get("default/a-low");
    auto h = pods.Get("default/b-high");
    return l && h && l->Get({"status", "conditions"}) && h->Get({"status", "conditions"});
  }));
  Drain(scheduler.controller());
  // Named so that every other order (alphabetical, arrival, age) would pick the low one.
  ASSERT_TRUE(api_->Patch(res::kNodes, "", "n1", J(R"({"spec":{"unschedulable":false}})")).ok());
  ASSERT_TRUE(Eventually([&] { return scheduler.controller().queue().Len() == 2; }));
  Drain(scheduler.controller());
  auto high = api_->Get(res::kPods, "default", "b-high");
  auto low = api_->Get(res::kPods, "default", "a-low");
  ASSERT_TRUE(high.ok() && low.ok());
  EXPECT_EQ(high->Get({"spec", "priority"})->as_int(), 1000);
  EXPECT_EQ(high->GetString({"spec", "nodeName"}), "n1");
  EXPECT_EQ(low->GetString({"spec", "nodeName"}), "");
  EXPECT_EQ(low->Get({"status", "conditions"})->as_array()[0].GetString({"message"}),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.");
}

// Brief S3 and S4: a higher-priority pod preempts the fewest, newest lower-priority pods on the
// node, is nominated to it, and binds once they are gone; with preemptionPolicy Never it waits.
TEST_F(SchedulerDecisionsTest, SchedulerPreemptsNewestLowerPriorityPods) {
  Informer& pods = *pods_;
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  client::Resource pcs{"scheduling.k8s.io", "v1", "priorityclasses", false, "PriorityClass"};
  ASSERT_TRUE(api_->Create(pcs, "", J(R"({"metadata":{"name":"high"},"value":1000})")).ok());
  ASSERT_TRUE(api_->Create(pcs, "", J(R"({"metadata":{"name":"high-np"},"value":1000,"preemptionPolicy":"Never"})")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", J(R"({"metadata":{"name":"n1"},"status":{
      "allocatable":{"cpu":"2","memory":"8Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}})")).ok());
  for (int i = 1; i <= 4; ++i) {
    auto created = api_->Create(res::kPods, "default", J(StrCat(R"({"metadata":{"name":"low-)", i, R"("},"spec":{"nodeName":"n1",
        "containers":[{"name":"c","image":"host","resources":{"requests":{"cpu":"500m"}}}]}})")));
    ASSERT_TRUE(created.ok()) << created.status();
    // Started one second apart, as a kubelet would report.
    created->Ensure({"status"}).Set("phase", "Running");
    created->Ensure({"status"}).Set("startTime", StrCat("2026-01-01T00:00:0", i, "Z"));
    ASSERT_TRUE(api_->UpdateStatus(res::kPods, *created).ok());
  }
  ASSERT_TRUE(Eventually([&] {
    auto p = pods.Get("default/low-4");
    return p && !p->GetString({"status", "startTime"}).empty() && nodes.Get("n1") &&
           scheduler.UsageForTest("n1") == std::pair<int64_t, int64_t>{2000, 4000};
  }));
  auto condition = [&](const std::string& name, const std::string& type) -> json::Value {
    auto p = api_->Get(res::kPods, "default", name);
    const json::Value* conds = p.ok() ? p->Get({"status", "conditions"}) : nullptr;
    if (conds) {
      for (const json::Value& c : conds->as_array()) {
        if (c.GetString({"type"}) == type) return c;
      }
    }
    return json::Value();
  };

  // preemptionPolicy Never: no victims, the reason in the message.
  ASSERT_TRUE(api_->Create(res::kPods, "default", J(R"({"metadata":{"name":"polite"},"spec":{"priorityClassName":"high-np",
      "containers":[{"name":"c","image":"host","resources":{"requests":{"cpu":"1500m"}}}]}})")).ok());
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return !condition("polite", "PodScheduled").is_null();
  }));
  EXPECT_EQ(condition("polite", "PodScheduled").GetString({"message"}),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.");
  EXPECT_EQ(scheduler.preempted(), 0u);
  ASSERT_TRUE(api_->Delete(res::kPods, "default", "polite").ok());

  ASSERT_TRUE(api_->Create(res::kPods, "default", J(R"({"metadata":{"name":"urgent"},"spec":{"priorityClassName":"high",
      "containers":[{"name":"c","image":"host","resources":{"requests":{"cpu":"1500m"}}}]}})")).ok());
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return scheduler.preempted() > 0;
  }));
  EXPECT_EQ(scheduler.preempted(), 3u);
  auto urgent = api_->Get(res::kPods, "default", "urgent");
  ASSERT_TRUE(urgent.ok());
  EXPECT_EQ(urgent->GetString({"status", "nominatedNodeName"}), "n1");
  EXPECT_EQ(urgent->GetString({"spec", "nodeName"}), "");
  // (A retry while the victims stop may already have added why it waits.)
  EXPECT_EQ(condition("urgent", "PodScheduled").GetString({"message"}).rfind("0/1 nodes are available: 1 Insufficient cpu.", 0), 0u);
  auto l1 = api_->Get(res::kPods, "default", "low-1");
  ASSERT_TRUE(l1.ok());
  EXPECT_EQ(l1->Get({"metadata", "deletionTimestamp"}), nullptr) << "the oldest stays";
  for (const char* victim : {"low-2", "low-3", "low-4"}) {
    auto v = api_->Get(res::kPods, "default", victim);
    ASSERT_TRUE(v.ok()) << victim << " is deleted gracefully, not at once";
    EXPECT_NE(v->Get({"metadata", "deletionTimestamp"}), nullptr) << victim;
    json::Value c = condition(victim, "DisruptionTarget");
    EXPECT_EQ(c.GetString({"status"}), "True") << victim;
    EXPECT_EQ(c.GetString({"reason"}), "PreemptionByScheduler") << victim;
    EXPECT_EQ(c.GetString({"message"}), "default-scheduler: preempting to accommodate a higher priority pod");
  }
  // One preemption decided and timed (dequeue -> nominatedNodeName written), three victims.
  std::string metrics;
  scheduler.RenderMetrics(metrics);
  EXPECT_NE(metrics.find("\nscheduler_preemption_attempts_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nberth_scheduler_preempted_pods_total 3\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nberth_scheduler_preemption_decision_seconds_count 1\n"), std::string::npos) << metrics;
  // While they stop, the pod waits instead of evicting more (tried until its status write is
  // not refused: the cache may still hold the version before the nomination was written).
  EXPECT_TRUE(Eventually([&] {
    scheduler.controller().Enqueue("default/urgent");
    Drain(scheduler.controller());
    return condition("urgent", "PodScheduled").GetString({"message"}).find(
               "not eligible due to a terminating pod on the nominated node") != std::string::npos;
  }));
  EXPECT_EQ(scheduler.preempted(), 3u);
  // Their kubelet finishes the deletions: the pod binds to the node it was nominated to.
  for (const char* victim : {"low-2", "low-3", "low-4"}) {
    ASSERT_TRUE(api_->Delete(res::kPods, "default", victim, J(R"({"gracePeriodSeconds":0})")).ok());
  }
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    auto p = api_->Get(res::kPods, "default", "urgent");
    return p.ok() && p->GetString({"spec", "nodeName"}) == "n1";
  }));
}

// Berth's options beyond upstream: a minimum priority gap, and a protected band whose pods
// never preempt each other.
TEST_F(SchedulerDecisionsTest, SchedulerPreemptionGapAndProtectedBand) {
  Scheduler& scheduler = *scheduler_;
  scheduler.SetPreemptionOptions({.min_priority_gap = 10, .protected_band = 1000});
  for (auto [name, value] : std::vector<std::pair<std::string, int>>{{"p995", 995}, {"p1000", 1000}, {"p1500", 1500}, {"p2000", 2000}}) {
    ASSERT_TRUE(api_->Create(res::kPriorityClasses, "", J(StrCat(R"({"metadata":{"name":")", name, R"("},"value":)", value, "}"))).ok());
  }
  auto node = [&](const std::string& name) {
    ASSERT_TRUE(api_->Create(res::kNodes, "", J(R"({"metadata":{"name":")" + name + R"("},"status":{
        "allocatable":{"cpu":"1","memory":"8Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}})")).ok());
  };
  auto pod = [&](const std::string& name, const std::string& cls, const std::string& node_name) {
    std::string bound = node_name.empty() ? "" : R"("nodeName":")" + node_name + R"(",)";
    ASSERT_TRUE(api_->Create(res::kPods, "default", J(R"({"metadata":{"name":")" + name + R"("},"spec":{)" + bound +
        R"("priorityClassName":")" + cls + R"(","containers":[{"name":"c","image":"host","resources":{"requests":{"cpu":"1"}}}]}})")).ok());
  };
  auto message = [&](const std::string& name) {
    auto p = api_->Get(res::kPods, "default", name);
    const json::Value* conds = p.ok() ? p->Get({"status", "conditions"}) : nullptr;
    return conds && conds->size() > 0 ? conds->as_array()[0].GetString({"message"}) : std::string();
  };
  node("n1");
  pod("victim-995", "p995", "n1");
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("n1").first == 1000; }));
  pod("gap", "p1000", "");
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return !message("gap").empty();
  }));
  EXPECT_EQ(message("gap"), "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                            "1 No preemption victims found for incoming pod.") << "995 is within the gap of 10";
  EXPECT_EQ(scheduler.preempted(), 0u);
  ASSERT_TRUE(api_->Delete(res::kPods, "default", "gap", J(R"({"gracePeriodSeconds":0})")).ok());
  ASSERT_TRUE(api_->Delete(res::kPods, "default", "victim-995", J(R"({"gracePeriodSeconds":0})")).ok());

  // In the band (>= 1000): a 2000 pod may not evict a 1500 one, but may evict a 995 one.
  pod("prod-1500", "p1500", "n1");
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("n1").first == 1000; }));
  pod("prod-2000", "p2000", "");
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return !message("prod-2000").empty();
  }));
  EXPECT_EQ(scheduler.preempted(), 0u) << message("prod-2000");
  // The pod is counted on n2 before n2 appears, so that the retry n2 triggers sees it full.
  pod("batch-995", "p995", "n2");
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("n2").first == 1000; }));
  node("n2");
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return scheduler.preempted() == 1u;
  }));
  auto batch = api_->Get(res::kPods, "default", "batch-995");
  ASSERT_TRUE(batch.ok());
  EXPECT_NE(batch->Get({"metadata", "deletionTimestamp"}), nullptr);
}


// A nominated pod goes first within its queue and priority: its room is made and held, so it only
// needs its binding. Here an older pod of the same priority (which may not preempt) is queued
// ahead of it, and the first pod the scheduler takes must still be the nominated one.
TEST_F(SchedulerDecisionsTest, SchedulerTriesANominatedPodBeforeOlderPodsOfItsPriority) {
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(res::kPriorityClasses, "", J(R"({"metadata":{"name":"high"},"value":1000})")).ok());
  ASSERT_TRUE(api_->Create(res::kPriorityClasses, "",
                           J(R"({"metadata":{"name":"high-np"},"value":1000,"preemptionPolicy":"Never"})")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n1", "1")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("victim", "1", "{}", "", "n1")).ok());
  ASSERT_TRUE(Eventually([&] {
    return nodes.Get("n1") && scheduler.UsageForTest("n1") == std::pair<int64_t, int64_t>{1000, 1000};
  }));
  auto scheduled_message = [&](const std::string& name) {
    auto p = api_->Get(res::kPods, "default", name);
    const json::Value* conds = p.ok() ? p->Get({"status", "conditions"}) : nullptr;
    if (conds) {
      for (const json::Value& c : conds->as_array()) {
        if (c.GetString({"type"}) == "PodScheduled") return c.GetString({"message"});
      }
    }
    return std::string();
  };
  ASSERT_TRUE(api_->Create(res::kPods, "default",
                           PodAsking("a-older", "600m", "{}", R"("priorityClassName":"high-np",)")).ok());
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return !scheduled_message("a-older").empty();
  }));
  ASSERT_TRUE(api_->Create(res::kPods, "default",
                           PodAsking("b-nominated", "600m", "{}", R"("priorityClassName":"high",)")).ok());
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return scheduler.preempted() == 1;
  }));
  auto b = api_->Get(res::kPods, "default", "b-nominated");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->GetString({"status", "nominatedNodeName"}), "n1");

  // The older pod queued first (the victim's departure queues the nominee), so that only the rank
  // can put the nominated pod ahead.
  scheduler.controller().Enqueue("default/a-older");
  ASSERT_TRUE(api_->Delete(res::kPods, "default", "victim", J(R"({"gracePeriodSeconds":0})")).ok());
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("n1") == std::pair<int64_t, int64_t>{0, 0}; }));
  scheduler.controller().Enqueue("default/b-nominated");
  ASSERT_TRUE(Eventually([&] { return scheduler.controller().queue().Len() == 2; }));
  ASSERT_TRUE(scheduler.controller().ProcessOneForTest());
  ASSERT_TRUE(Eventually([&] { return NodeOf(*api_, "b-nominated") == "n1"; }));
  EXPECT_EQ(NodeOf(*api_, "a-older"), "");
  Drain(scheduler.controller());
  EXPECT_EQ(NodeOf(*api_, "a-older"), "");
  EXPECT_EQ(scheduler.preempted(), 1u) << "a pod with preemptionPolicy Never takes nothing";
}


// A victim whose binding was still in flight when it was deleted: its room is freed at the delete
// and the nominee is woken then (the binding that later fails wakes no one; before, the nominee
// waited for its five-minute safety net).
TEST_F(SchedulerDecisionsTest, SchedulerWakesTheNomineeWhenAVictimIsDeletedBeforeItsBindingLands) {
  Informer& pods = *pods_;
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(res::kPriorityClasses, "", J(R"({"metadata":{"name":"high"},"value":1000})")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n1", "1")).ok());
  // Another scheduler's pod, so that this one never binds it itself; assumed as if it had.
  ASSERT_TRUE(api_->Create(res::kPods, "default",
                           PodAsking("victim", "1", "{}", R"("schedulerName":"elsewhere",)")).ok());
  ASSERT_TRUE(Eventually([&] { return nodes.Get("n1") && pods.Get("default/victim"); }));
  scheduler.AssumeForTest("default/victim", "n1");
  ASSERT_EQ(scheduler.UsageForTest("n1"), (std::pair<int64_t, int64_t>{1000, 1000}));

  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("urgent", "1", "{}", R"("priorityClassName":"high",)")).ok());
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return scheduler.preempted() == 1;
  }));
  // Not bound, the victim was deleted at once; nothing but its departure queues the nominee again.
  ASSERT_TRUE(Eventually([&] { return !api_->Get(res::kPods, "default", "victim").ok(); }));
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return NodeOf(*api_, "urgent") == "n1";
  }));
  EXPECT_EQ(scheduler.UsageForTest("n1"), (std::pair<int64_t, int64_t>{1000, 1000}));
}


// Room held for a nominee is free once it binds elsewhere: the pods waiting for room on the node
// it was nominated to are retried then (as when a pod leaves), not only at their own timers.
TEST_F(SchedulerDecisionsTest, SchedulerRetriesWaitingPodsWhenANomineeBindsElsewhere) {
  Informer& pods = *pods_;
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n1", "1")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", J(R"({"metadata":{"name":"n2"},"spec":{"unschedulable":true},"status":{
      "allocatable":{"cpu":"1","memory":"8Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}})")).ok());
  ASSERT_TRUE(Eventually([&] { return nodes.List().size() == 2; }));
  // A nomination this scheduler adopts from status (another instance made it): the pod fits no
  // node (its selector matches none), and the nomination holds n1's room meanwhile.
  auto held = api_->Create(res::kPods, "default", PodAsking("holder", "1", "{}", R"("nodeSelector":{"no":"such-node"},)"));
  ASSERT_TRUE(held.ok()) << held.status();
  held->Ensure({"status"}).Set("nominatedNodeName", "n1");
  ASSERT_TRUE(api_->UpdateStatus(res::kPods, *held).ok());
  ASSERT_TRUE(Eventually([&] {
    auto p = pods.Get("default/holder");
    return p && !p->GetString({"status", "nominatedNodeName"}).empty();
  }));
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("waiter", "1")).ok());
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    auto p = api_->Get(res::kPods, "default", "waiter");
    return p.ok() && p->Get({"status", "conditions"}) != nullptr;
  }));
  Drain(scheduler.controller());
  ASSERT_EQ(NodeOf(*api_, "waiter"), "") << "n1's room is held for the nominee";

  // Bound elsewhere (by whoever made its nomination): the waiter is retried after its back-off,
  // long before its own timer.
  ASSERT_TRUE(api_->Bind("default", "holder", "n2").ok());
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("n2").first == 1000; }));
  // The retry is queued just after the usage changes, outside the lock, so the clock moves on in
  // steps while waiting: past any back-off (at most 10 s), never near the five-minute timer.
  absl::Duration advanced;
  ASSERT_TRUE(Eventually([&] {
    if (advanced < absl::Seconds(30)) {
      clock_.Advance(absl::Seconds(1));
      advanced += absl::Seconds(1);
    }
    Drain(scheduler.controller());
    return NodeOf(*api_, "waiter") == "n1";
  }));
}


// A nomination whose status write is refused for a stale cached copy (often the scheduler's own
// last write, whose status-only event does not queue the pod) is not carried out, and the pod is
// tried again rather than left with nothing to wake it.
TEST_F(SchedulerDecisionsTest, SchedulerRetriesAPreemptorWhoseNominationWriteConflicted) {
  Informer& pods = *pods_;
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(res::kPriorityClasses, "", J(R"({"metadata":{"name":"high"},"value":1000})")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n1", "1")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("victim", "1", "{}", "", "n1")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("urgent", "1", "{}", R"("priorityClassName":"high",)")).ok());
  ASSERT_TRUE(Eventually([&] {
    return nodes.Get("n1") && pods.Get("default/urgent") && scheduler.UsageForTest("n1").first == 1000;
  }));
  // The cache stops here; the pod's status then moves on in the API.
  pods.Stop();
  auto urgent = api_->Get(res::kPods, "default", "urgent");
  ASSERT_TRUE(urgent.ok());
  urgent->Ensure({"status"}).Set("phase", "Pending");
  urgent->Ensure({"status"}).Set("message", "written by someone else");
  ASSERT_TRUE(api_->UpdateStatus(res::kPods, *urgent).ok());

  scheduler.controller().Enqueue("default/urgent");
  ASSERT_TRUE(scheduler.controller().ProcessOneForTest());
  EXPECT_EQ(scheduler.preempted(), 0u) << "no nomination was published: no victims go";
  EXPECT_EQ(scheduler.controller().queue().Len(), 1u) << "tried again";
  auto after = api_->Get(res::kPods, "default", "urgent");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->GetString({"status", "nominatedNodeName"}), "");
}


// A refusal's condition written over a stale cached copy (here the cache stopped; in life, this
// scheduler's own last write not yet seen) still lands: the pod is read again and written once
// more, so its message says what the latest attempt found rather than what an earlier one did.
TEST_F(SchedulerDecisionsTest, SchedulerWritesTheLatestRefusalOverAStaleCachedCopy) {
  Informer& pods = *pods_;
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n1", "1")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("big", "2")).ok());
  ASSERT_TRUE(Eventually([&] { return nodes.Get("n1") && pods.Get("default/big"); }));
  pods.Stop();
  auto big = api_->Get(res::kPods, "default", "big");
  ASSERT_TRUE(big.ok());
  big->Ensure({"status"}).Set("message", "written by someone else");
  ASSERT_TRUE(api_->UpdateStatus(res::kPods, *big).ok());

  scheduler.controller().Enqueue("default/big");
  ASSERT_TRUE(scheduler.controller().ProcessOneForTest());
  auto after = api_->Get(res::kPods, "default", "big");
  ASSERT_TRUE(after.ok());
  const json::Value* conditions = after->Get({"status", "conditions"});
  ASSERT_NE(conditions, nullptr) << "the refusal was dropped on the conflict";
  ASSERT_EQ(conditions->size(), 1u);
  EXPECT_EQ(conditions->as_array()[0].GetString({"reason"}), "Unschedulable");
  EXPECT_EQ(conditions->as_array()[0].GetString({"message"}).rfind("0/1 nodes are available: 1 Insufficient cpu.", 0), 0u)
      << conditions->as_array()[0].GetString({"message"});
  EXPECT_EQ(after->GetString({"status", "message"}), "written by someone else") << "the other writer's status is kept";
  std::string metrics;
  scheduler.RenderMetrics(metrics);
  EXPECT_NE(metrics.find("\nberth_scheduler_condition_conflicts_total 1\n"), std::string::npos) << metrics;
}


// A lower-priority nominee displaced by a preemptor (its nomination cleared) looks for another
// place at once, as upstream's prepareCandidate has it, not at its five-minute timer.
TEST_F(SchedulerDecisionsTest, SchedulerRetriesANomineeDisplacedByAHigherPriorityPreemptor) {
  Informer& pods = *pods_;
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  for (const char* pc : {R"({"metadata":{"name":"high"},"value":1000})", R"({"metadata":{"name":"guard"},"value":100})",
                         R"({"metadata":{"name":"mid"},"value":10})"}) {
    ASSERT_TRUE(api_->Create(res::kPriorityClasses, "", J(pc)).ok());
  }
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n1", "1")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n2", "1")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("occupant", "1", "{}", R"("priorityClassName":"guard","terminationGracePeriodSeconds":0,)", "n1")).ok());
  // n2 is taken by another scheduler's pod, as far as this one knows.
  ASSERT_TRUE(api_->Create(res::kPods, "default",
                           PodAsking("blocker", "1", "{}", R"("schedulerName":"elsewhere","priorityClassName":"guard",)")).ok());
  ASSERT_TRUE(Eventually([&] { return nodes.List().size() == 2 && pods.Get("default/blocker") && pods.Get("default/occupant"); }));
  scheduler.AssumeForTest("default/blocker", "n2");
  // Nominated to n1 (by another instance, adopted from status); it cannot preempt the occupant.
  ASSERT_NO_FATAL_FAILURE(CreateRefusedNominee(*api_, pods, scheduler, "low", "n1", R"("priorityClassName":"mid",)"));
  ASSERT_EQ(NodeOf(*api_, "low"), "");
  // n2's room comes free with nothing to say so (as a lost event would): only a retry finds it.
  scheduler.ForgetPlacementForTest("default/blocker");

  ASSERT_TRUE(api_->Create(res::kPods, "default",
                           PodAsking("urgent", "1", "{}", R"("priorityClassName":"high","nodeSelector":{"kubernetes.io/hostname":"n1"},)"))
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return NodeOf(*api_, "urgent") == "n1";
  }));
  EXPECT_EQ(scheduler.preempted(), 1u);
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return NodeOf(*api_, "low") == "n2";
  })) << "the displaced nominee waits for its timer";
}


// The once-a-second sweep: a nominee whose room came free with no event to say so (here a
// placement dropped as a lost event would) is found and retried, once per nomination.
TEST_F(SchedulerDecisionsTest, SchedulerSweepRetriesANomineeWhoseRoomCameFreeSilently) {
  Informer& pods = *pods_;
  Informer& nodes = *nodes_;
  Scheduler& scheduler = *scheduler_;
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("n1", "1")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default",
                           PodAsking("occupant", "1", "{}", R"("schedulerName":"elsewhere",)")).ok());
  ASSERT_TRUE(Eventually([&] { return nodes.Get("n1") && pods.Get("default/occupant"); }));
  scheduler.AssumeForTest("default/occupant", "n1");
  // Nominated by another instance (adopted from status); nothing to preempt at its priority.
  ASSERT_NO_FATAL_FAILURE(CreateRefusedNominee(*api_, pods, scheduler, "nominee", "n1"));
  Drain(scheduler.controller());
  EXPECT_EQ(scheduler.RetryNomineesThatFit(), 0u) << "n1 is full";

  scheduler.ForgetPlacementForTest("default/occupant");  // room freed, no event
  EXPECT_EQ(scheduler.RetryNomineesThatFit(), 1u);
  EXPECT_EQ(scheduler.RetryNomineesThatFit(), 0u) << "queued already";
  ASSERT_TRUE(Eventually([&] {
    Drain(scheduler.controller());
    return NodeOf(*api_, "nominee") == "n1";
  }));
  std::string metrics;
  scheduler.RenderMetrics(metrics);
  EXPECT_NE(metrics.find("\nberth_scheduler_nominees_swept_total 1\n"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace berth::controllers::builtin
