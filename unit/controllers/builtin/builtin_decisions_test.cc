// Built-in controllers' decisions (all but the scheduler's, which are in
// scheduler/scheduler_decisions_test.cc), one reconcile at a time: decisions_fixture.h.

#include "controllers/builtin/bootstrap/token_cleaner.h"
#include "controllers/builtin/deployment/deployment_controller.h"
#include "controllers/builtin/job/job_controller.h"
#include "controllers/builtin/nodelifecycle/node_lifecycle_controller.h"
#include "controllers/builtin/replicaset/replicaset_controller.h"
#include "core/strings/strings.h"
#include "unit/controllers/builtin/decisions_fixture.h"

namespace berth::controllers::builtin {
namespace {


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
