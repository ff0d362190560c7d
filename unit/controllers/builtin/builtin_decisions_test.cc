// Built-in controllers' decisions, one reconcile at a time: a real in-process apiserver
// (memory store, port 0) for the API, a fake clock for time, and the controller driven by
// ProcessOneForTest so that each step is observed — no worker threads, no sleeps.

#include <functional>

#include "apiserver/server/apiserver.h"
#include "controllers/builtin/bootstrap/token_cleaner.h"
#include "controllers/builtin/deployment/deployment_controller.h"
#include "controllers/builtin/job/job_controller.h"
#include "controllers/builtin/nodelifecycle/node_lifecycle_controller.h"
#include "controllers/builtin/replicaset/replicaset_controller.h"
#include "controllers/builtin/scheduler/scheduler.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "gtest/gtest.h"
#include "testing/eventually.h"
#include "testing/fake_clock.h"
#include "testing/test_apiserver.h"

namespace berth::controllers::builtin {
namespace {

namespace res = client::resources;

json::Value J(const std::string& text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : json::Value();
}

class DecisionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = testing::StartTestApiServer();  // no data dir: the memory store
    ASSERT_TRUE(t.ok()) << t.status();
    server_ = std::move(t->server);
    api_ = std::move(t->api);
  }
  void TearDown() override {
    // The informers live in the test body and stopped in their destructors already.
    // The server first: closing the listener while the client's pooled connections are being torn
    // down raced inside cpprestsdk (a rare SEGFAULT in asio's epoll reactor at teardown).
    server_.reset();
    api_.reset();
  }
  void Start(std::initializer_list<Informer*> informers) {
    for (Informer* i : informers) {
      i->Start();
      ASSERT_TRUE(i->WaitForSync(absl::Seconds(10)));
    }
  }
  // Informer events arrive on their own thread: wait (with a deadline) until the cache agrees.
  static bool Eventually(const std::function<bool()>& pred) { return testing::Eventually(pred); }
  static int Drain(Controller& c) {
    int n = 0;
    while (c.ProcessOneForTest()) ++n;
    return n;
  }
  std::vector<json::Value> LivePods() {
    auto list = api_->List(res::kPods, "default");
    EXPECT_TRUE(list.ok()) << list.status();
    std::vector<json::Value> out;
    for (json::Value& p : list->items) {
      if (!p.Get({"metadata", "deletionTimestamp"})) out.push_back(std::move(p));
    }
    return out;
  }

  testing::FakeClock clock_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<client::ApiClient> api_;
};

// Declared after the controller it feeds, so it is destroyed first: informer threads must stop
// before the handlers they call (the controller's) are gone.
struct StopInformersFirst {
  std::vector<Informer*> informers;
  ~StopInformersFirst() {
    for (Informer* i : informers) i->Stop();
  }
};

json::Value ReplicaSet(int replicas) {
  return J(R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web"},
    "spec":{"replicas":)" + std::to_string(replicas) + R"(,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"host"}]}}}})");
}

TEST_F(DecisionsTest, ReplicaSetNeverCreatesDuplicatesWhileItsCacheLags) {
  Informer rs_informer(*api_, res::kReplicaSets);
  Informer pods(*api_, res::kPods);
  ReplicaSetController rs(*api_, rs_informer, pods, clock_, 1);
  StopInformersFirst stop_first{{&rs_informer, &pods}};
  Start({&rs_informer, &pods});
  ASSERT_TRUE(api_->Create(res::kReplicaSets, "default", ReplicaSet(3)).ok());
  ASSERT_TRUE(Eventually([&] { return rs_informer.Get("default/web") != nullptr; }));
  rs.controller().Enqueue("default/web");  // the handler may run just after the cache update
  Drain(rs.controller());
  ASSERT_EQ(LivePods().size(), 3u);
  std::string uid = rs_informer.Get("default/web")->GetString({"metadata", "uid"});
  for (const json::Value& p : LivePods()) {
    EXPECT_EQ(p.Get({"metadata", "ownerReferences"})->as_array()[0].GetString({"uid"}), uid);
  }
  // Reconcile again at once, before the pod informer has necessarily seen the creations: the
  // expectations hold the controller back.
  rs.controller().Enqueue("default/web");
  Drain(rs.controller());
  EXPECT_EQ(LivePods().size(), 3u);
  ASSERT_TRUE(Eventually([&] { return pods.ByIndex("owner", uid).size() == 3; }));
  Drain(rs.controller());
  EXPECT_EQ(LivePods().size(), 3u);

  // An orphan that matches is adopted (owner reference set), and with four owned pods for
  // three replicas one is deleted: the set converges without a new creation.
  ASSERT_TRUE(api_->Create(res::kPods, "default", J(R"({"metadata":{"name":"stray","labels":{"app":"web"}},
      "spec":{"containers":[{"name":"c","image":"host"}]}})")).ok());
  ASSERT_TRUE(Eventually([&] { return pods.Get("default/stray") != nullptr; }));
  ASSERT_TRUE(Eventually([&] {
    rs.controller().Enqueue("default/web");
    Drain(rs.controller());
    return LivePods().size() == 3;
  }));
  for (const json::Value& p : LivePods()) {
    const json::Value* refs = p.Get({"metadata", "ownerReferences"});
    ASSERT_NE(refs, nullptr) << json::Serialize(p);
    EXPECT_EQ(refs->as_array()[0].GetString({"uid"}), uid);
  }
}

TEST_F(DecisionsTest, DeploymentSurgesANewReplicaSetWithinMaxSurge) {
  Informer deployments(*api_, res::kDeployments);
  Informer replicasets(*api_, res::kReplicaSets);
  DeploymentController controller(*api_, deployments, replicasets, clock_, 1);
  StopInformersFirst stop_first{{&deployments, &replicasets}};
  Start({&deployments, &replicasets});
  auto deployment = J(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
    "spec":{"replicas":4,"selector":{"matchLabels":{"app":"web"}},
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"v1"}]}}}})");
  ASSERT_TRUE(api_->Create(res::kDeployments, "default", deployment).ok());
  ASSERT_TRUE(Eventually([&] { return deployments.Get("default/web") != nullptr; }));
  controller.controller().Enqueue("default/web");  // the handler may run just after the cache update
  Drain(controller.controller());
  auto sets = [&] { return api_->List(res::kReplicaSets, "default")->items; };
  ASSERT_EQ(sets().size(), 1u);
  json::Value first = sets()[0];
  EXPECT_EQ(first.Get({"spec", "replicas"})->as_int(), 4);
  std::string hash = first.GetString({"metadata", "labels", "pod-template-hash"});
  EXPECT_FALSE(hash.empty());
  EXPECT_EQ(first.GetString({"spec", "selector", "matchLabels", "pod-template-hash"}), hash);
  // Pretend the old pods are all ready, so that only maxSurge limits the new set.
  first.Ensure({"status"}).Set("replicas", 4);
  first["status"].Set("readyReplicas", 4);
  first["status"].Set("availableReplicas", 4);
  first["status"].Set("observedGeneration", first.Get({"metadata", "generation"})->as_int());
  ASSERT_TRUE(api_->UpdateStatus(res::kReplicaSets, first).ok());

  json::Value changed = *api_->Get(res::kDeployments, "default", "web");
  changed["spec"]["template"]["spec"]["containers"].as_array()[0].Set("image", "v2");
  ASSERT_TRUE(api_->Update(res::kDeployments, changed).ok());
  ASSERT_TRUE(Eventually([&] {
    auto d = deployments.Get("default/web");
    auto rs = replicasets.List();
    return d && d->Get({"metadata", "generation"})->as_int() == 2 && rs.size() == 1 &&
           rs[0]->Get({"status", "readyReplicas"}) != nullptr;
  }));
  ASSERT_TRUE(Eventually([&] {
    controller.controller().Enqueue("default/web");
    Drain(controller.controller());
    return sets().size() == 2;
  }));
  int64_t old_replicas = -1, new_replicas = -1;
  for (const json::Value& rs : sets()) {
    bool is_old = rs.GetString({"metadata", "labels", "pod-template-hash"}) == hash;
    (is_old ? old_replicas : new_replicas) = rs.Get({"spec", "replicas"})->as_int();
  }
  EXPECT_EQ(old_replicas, 4) << "maxUnavailable 0: nothing old goes before new pods are ready";
  EXPECT_EQ(new_replicas, 1) << "maxSurge 1: at most replicas+1 pods";
}

TEST_F(DecisionsTest, SchedulerUsageResyncRepairsAMissedEvent) {
  Informer pods(*api_, res::kPods);
  Informer nodes(*api_, res::kNodes);
  Scheduler scheduler(*api_, pods, nodes, clock_, 1, absl::ZeroDuration());  // resync driven by the test
  StopInformersFirst stop_first{{&pods, &nodes}};
  Start({&pods, &nodes});
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
TEST_F(DecisionsTest, SchedulerCountsExtendedResources) {
  Informer pods(*api_, res::kPods);
  Informer nodes(*api_, res::kNodes);
  Scheduler scheduler(*api_, pods, nodes, clock_, 1, absl::ZeroDuration());
  StopInformersFirst stop_first{{&pods, &nodes}};
  Start({&pods, &nodes});
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

// Every feasible node found is scored before one is chosen (least allocated wins), wherever the
// rotating scan starts.
TEST_F(DecisionsTest, SchedulerChoosesTheBestScoredNodeNotTheFirstThatFits) {
  Informer pods(*api_, res::kPods);
  Informer nodes(*api_, res::kNodes);
  Scheduler scheduler(*api_, pods, nodes, clock_, 1, absl::ZeroDuration());
  StopInformersFirst stop_first{{&pods, &nodes}};
  Start({&pods, &nodes});
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("a-busy", "4")).ok());
  ASSERT_TRUE(api_->Create(res::kNodes, "", SchedulableNode("b-empty", "4")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", PodAsking("hog", "3500m", "{}", "", "a-busy")).ok());
  ASSERT_TRUE(Eventually([&] { return scheduler.UsageForTest("a-busy").first == 3500; }));
  for (int i = 0; i < 4; ++i) {
    std::string name = "small-" + std::to_string(i);
    EXPECT_EQ(ScheduleOne(*api_, scheduler, PodAsking(name, "100m")), "b-empty") << name;
  }
}

// TaintToleration: a PreferNoSchedule taint the pod does not tolerate outweighs a busier node
// (weight 3 against the resource scores, as upstream); a pod tolerating it goes by resources.
TEST_F(DecisionsTest, SchedulerAvoidsPreferNoScheduleTaintsItDoesNotTolerate) {
  Informer pods(*api_, res::kPods);
  Informer nodes(*api_, res::kNodes);
  Scheduler scheduler(*api_, pods, nodes, clock_, 1, absl::ZeroDuration());
  StopInformersFirst stop_first{{&pods, &nodes}};
  Start({&pods, &nodes});
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
TEST_F(DecisionsTest, SchedulerScalesPreferredNodeAffinityOverTheFeasibleNodes) {
  Informer pods(*api_, res::kPods);
  Informer nodes(*api_, res::kNodes);
  Scheduler scheduler(*api_, pods, nodes, clock_, 1, absl::ZeroDuration());
  StopInformersFirst stop_first{{&pods, &nodes}};
  Start({&pods, &nodes});
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
TEST_F(DecisionsTest, SchedulerHonoursInterPodRules) {
  Informer pods(*api_, res::kPods);
  Informer nodes(*api_, res::kNodes);
  Scheduler scheduler(*api_, pods, nodes, clock_, 1, absl::ZeroDuration());
  StopInformersFirst stop_first{{&pods, &nodes}};
  Start({&pods, &nodes});
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
TEST_F(DecisionsTest, SchedulerQueueOrdersByPriorityThenAge) {
  Informer pods(*api_, res::kPods);
  Informer nodes(*api_, res::kNodes);
  Scheduler scheduler(*api_, pods, nodes, clock_, 1, absl::ZeroDuration());
  StopInformersFirst stop_first{{&pods, &nodes}};
  Start({&pods, &nodes});
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
TEST_F(DecisionsTest, SchedulerPreemptsNewestLowerPriorityPods) {
  Informer pods(*api_, res::kPods);
  Informer nodes(*api_, res::kNodes);
  Scheduler scheduler(*api_, pods, nodes, clock_, 1, absl::ZeroDuration());
  StopInformersFirst stop_first{{&pods, &nodes}};
  Start({&pods, &nodes});
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
  // While they stop, the pod waits instead of evicting more.
  scheduler.controller().Enqueue("default/urgent");
  Drain(scheduler.controller());
  EXPECT_EQ(scheduler.preempted(), 3u);
  EXPECT_NE(condition("urgent", "PodScheduled").GetString({"message"}).find("not eligible due to a terminating pod on the nominated node"),
            std::string::npos);
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
TEST_F(DecisionsTest, SchedulerPreemptionGapAndProtectedBand) {
  Informer pods(*api_, res::kPods);
  Informer nodes(*api_, res::kNodes);
  Scheduler scheduler(*api_, pods, nodes, clock_, 1, absl::ZeroDuration());
  StopInformersFirst stop_first{{&pods, &nodes}};
  scheduler.SetPreemptionOptions({.min_priority_gap = 10, .protected_band = 1000});
  Start({&pods, &nodes});
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

TEST_F(DecisionsTest, NodeLifecycleMarksASilentNodeUnknownThenEvicts) {
  Informer nodes(*api_, res::kNodes);
  Informer leases(*api_, res::kLeases, "kube-node-lease");
  Informer pods(*api_, res::kPods);
  NodeLifecycleOptions options;
  options.grace = absl::Seconds(40);
  options.eviction_timeout = absl::Seconds(300);
  NodeLifecycleController lifecycle(*api_, nodes, leases, pods, options, clock_);
  StopInformersFirst stop_first{{&nodes, &leases, &pods}};
  Start({&nodes, &leases, &pods});
  std::string now = FormatRfc3339(clock_.Now());
  ASSERT_TRUE(api_->Create(res::kNodes, "", J(R"({"metadata":{"name":"n1"},"status":{"conditions":[
      {"type":"Ready","status":"True","lastHeartbeatTime":")" + now + R"("}]}})")).ok());
  ASSERT_TRUE(api_->Create(res::kLeases, "kube-node-lease", J(R"({"metadata":{"name":"n1"},
      "spec":{"holderIdentity":"n1","renewTime":")" + FormatRfc3339(clock_.Now()) + R"("}})")).ok());
  ASSERT_TRUE(api_->Create(res::kPods, "default", J(R"({"metadata":{"name":"on-n1"},
      "spec":{"nodeName":"n1","containers":[{"name":"c","image":"host"}]}})")).ok());
  // The lease too: one first seen after the clock moved would restart the grace period there.
  ASSERT_TRUE(Eventually([&] {
    return nodes.Get("n1") != nullptr && leases.Get("kube-node-lease/n1") != nullptr && pods.Get("default/on-n1") != nullptr;
  }));
  auto ready = [&]() {
    auto n = api_->Get(res::kNodes, "", "n1");
    for (const json::Value& c : n->Get({"status", "conditions"})->as_array()) {
      if (c.GetString({"type"}) == "Ready") return c.GetString({"status"});
    }
    return std::string();
  };
  lifecycle.controller().Enqueue("n1");
  Drain(lifecycle.controller());
  EXPECT_EQ(ready(), "True");

  clock_.Advance(absl::Seconds(39));
  lifecycle.controller().Enqueue("n1");
  Drain(lifecycle.controller());
  EXPECT_EQ(ready(), "True") << "still within the grace period";

  clock_.Advance(absl::Seconds(2));
  lifecycle.controller().Enqueue("n1");
  Drain(lifecycle.controller());
  EXPECT_EQ(ready(), "Unknown");
  auto node = api_->Get(res::kNodes, "", "n1");
  std::string taints = json::Serialize(*node->Get({"spec", "taints"}));
  EXPECT_NE(taints.find("node.kubernetes.io/unreachable"), std::string::npos) << taints;
  EXPECT_NE(taints.find("NoExecute"), std::string::npos) << taints;
  EXPECT_EQ(LivePods().size(), 1u) << "pods stay until the eviction timeout";

  clock_.Advance(absl::Seconds(301));
  ASSERT_TRUE(Eventually([&] {
    lifecycle.controller().Enqueue("n1");
    Drain(lifecycle.controller());
    return LivePods().empty();
  }));
}

TEST_F(DecisionsTest, JobRunsPodsUntilCompletionsThenIsComplete) {
  Informer jobs(*api_, res::kJobs);
  Informer pods(*api_, res::kPods);
  JobController controller(*api_, jobs, pods, clock_, 1, absl::Seconds(10));
  StopInformersFirst stop_first{{&jobs, &pods}};
  Start({&jobs, &pods});
  ASSERT_TRUE(api_->Create(res::kJobs, "default", J(R"({"metadata":{"name":"batch"},
      "spec":{"completions":2,"parallelism":1,"backoffLimit":1,
        "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"host"}]}}}})")).ok());
  ASSERT_TRUE(Eventually([&] { return jobs.Get("default/batch") != nullptr; }));
  std::string uid = jobs.Get("default/batch")->GetString({"metadata", "uid"});
  controller.controller().Enqueue("default/batch");
  auto finish_running_pods = [&](const char* phase) {
    for (json::Value p : LivePods()) {
      if (p.GetString({"status", "phase"}) == "Succeeded" || p.GetString({"status", "phase"}) == "Failed") continue;
      p.Ensure({"status"}).Set("phase", phase);
      ASSERT_TRUE(api_->UpdateStatus(res::kPods, p).ok());
    }
  };
  auto phase_count = [&](const char* phase) {
    size_t n = 0;
    for (const ObjectPtr& p : pods.ByIndex("owner", uid)) n += p->GetString({"status", "phase"}) == phase;
    return n;
  };
  Drain(controller.controller());
  ASSERT_EQ(LivePods().size(), 1u) << "parallelism 1";
  ASSERT_TRUE(Eventually([&] { return pods.ByIndex("owner", uid).size() == 1; }));
  finish_running_pods("Succeeded");
  ASSERT_TRUE(Eventually([&] { return phase_count("Succeeded") == 1; }));
  controller.controller().Enqueue("default/batch");  // the handler may run just after the cache update
  Drain(controller.controller());
  ASSERT_TRUE(Eventually([&] { return pods.ByIndex("owner", uid).size() == 2; }));
  EXPECT_EQ(LivePods().size(), 2u);
  finish_running_pods("Succeeded");
  ASSERT_TRUE(Eventually([&] { return phase_count("Succeeded") == 2; }));
  controller.controller().Enqueue("default/batch");
  Drain(controller.controller());
  auto job = api_->Get(res::kJobs, "default", "batch");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->Get({"status", "succeeded"})->as_int(), 2);
  std::string conditions = json::Serialize(*job->Get({"status", "conditions"}));
  EXPECT_NE(conditions.find("\"Complete\""), std::string::npos) << conditions;
  EXPECT_EQ(LivePods().size(), 2u) << "no pod beyond completions";
}

}  // namespace
}  // namespace berth::controllers::builtin

namespace berth::controllers::builtin {
namespace {

TEST_F(DecisionsTest, TokenCleanerDeletesBootstrapTokensOnceExpired) {
  Informer secrets(*api_, res::kSecrets, "kube-system",
                   client::ListOptions{.field_selector = "type=bootstrap.kubernetes.io/token"});
  TokenCleaner cleaner(*api_, secrets, clock_);
  StopInformersFirst stop_first{{&secrets}};
  Start({&secrets});
  auto token = [](const std::string& id, const std::string& expiration, const std::string& type) {
    return J(R"({"metadata":{"name":"bootstrap-token-)" + id + R"("},"type":")" + type +
             R"(","stringData":{"token-id":")" + id + R"(","token-secret":"0123456789abcdef","expiration":")" +
             expiration + R"("}})");
  };
  // The fake clock starts at 2026-01-01T00:00:00Z.
  ASSERT_TRUE(api_->Create(res::kSecrets, "kube-system", token("later1", "2026-01-01T00:10:00Z", "bootstrap.kubernetes.io/token")).ok());
  ASSERT_TRUE(api_->Create(res::kSecrets, "kube-system", token("gone11", "2025-12-31T00:00:00Z", "bootstrap.kubernetes.io/token")).ok());
  ASSERT_TRUE(api_->Create(res::kSecrets, "kube-system", token("opaque", "2025-12-31T00:00:00Z", "Opaque")).ok());
  ASSERT_TRUE(Eventually([&] { return secrets.List().size() == 2; }));
  for (const char* id : {"later1", "gone11"}) cleaner.controller().Enqueue(std::string("kube-system/bootstrap-token-") + id);
  Drain(cleaner.controller());
  EXPECT_EQ(api_->Get(res::kSecrets, "kube-system", "bootstrap-token-gone11").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(api_->Get(res::kSecrets, "kube-system", "bootstrap-token-later1").ok());
  EXPECT_TRUE(api_->Get(res::kSecrets, "kube-system", "bootstrap-token-opaque").ok()) << "not a bootstrap token";
  clock_.Advance(absl::Minutes(11));
  cleaner.controller().Enqueue("kube-system/bootstrap-token-later1");
  Drain(cleaner.controller());
  EXPECT_EQ(api_->Get(res::kSecrets, "kube-system", "bootstrap-token-later1").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth::controllers::builtin
