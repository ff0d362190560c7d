// The agent's sync loop on the fake runtime and a fake clock: restart policies, CrashLoopBackOff
// timing, init container order, phases, graceful deletion. The API is an in-process apiserver
// (memory store, port 0); the sync controller is stepped one key at a time.

#include "kubelet-like-agent/sync/pod_sync.h"

#include <filesystem>
#include <thread>

#include "apiserver/server/apiserver.h"
#include "core/json/codec.h"
#include "gtest/gtest.h"
#include "kubelet-like-agent/runtime/fake/fake_runtime.h"
#include "testing/eventually.h"
#include "testing/fake_clock.h"
#include "testing/test_apiserver.h"

namespace berth::agent {
namespace {

namespace res = client::resources;

class PodSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = testing::StartTestApiServer();
    ASSERT_TRUE(t.ok()) << t.status();
    server_ = std::move(t->server);
    api_ = std::move(t->api);
    dir_ = std::filesystem::temp_directory_path() / ("berth-podsync-" + std::to_string(getpid()));
    client::ListOptions selector;
    selector.field_selector = "spec.nodeName=n1";
    pods_ = std::make_unique<controllers::Informer>(*api_, res::kPods, "", selector);
    volumes_ = std::make_unique<VolumeManager>(api_.get(), dir_ + "/pods");
    status_ = std::make_unique<StatusManager>(*api_, clock_);
    options_.node_names = {"n1"};
    options_.pods_dir = dir_ + "/pods";
    options_.any_image = true;
    sync_ = std::make_unique<PodSync>(api_.get(), *pods_, runtime_, *volumes_, *status_, options_, clock_);
    status_->Start();
    pods_->Start();
    ASSERT_TRUE(pods_->WaitForSync(absl::Seconds(10)));
  }
  void TearDown() override {
    pods_->Stop();
    status_->Stop();
    sync_.reset();
    // The server first: closing the listener while the client's pooled connections are being torn
    // down raced inside cpprestsdk (a rare SEGFAULT in asio's epoll reactor at teardown).
    server_.reset();
    api_.reset();
    std::filesystem::remove_all(dir_);
  }
  static bool Eventually(const std::function<bool()>& pred) { return testing::Eventually(pred); }
  void Create(const std::string& name, const std::string& restart_policy, const std::string& extra_spec = "") {
    auto pod = json::Parse(R"({"metadata":{"name":")" + name + R"("},"spec":{"nodeName":"n1","restartPolicy":")" +
                           restart_policy + R"(",)" + extra_spec +
                           R"("containers":[{"name":"c","image":"img","command":["run"]}]}})");
    ASSERT_TRUE(pod.ok());
    ASSERT_TRUE(api_->Create(res::kPods, "default", *pod).ok());
    ASSERT_TRUE(Eventually([&] { return pods_->Get("default/" + name) != nullptr; }));
  }
  void Sync(const std::string& name) { SyncWith(*sync_, name); }
  static void SyncWith(PodSync& sync, const std::string& name) {
    sync.controller().Enqueue("default/" + name);
    while (sync.controller().ProcessOneForTest()) {
    }
  }
  std::string Uid(const std::string& name) { return pods_->Get("default/" + name)->GetString({"metadata", "uid"}); }
  json::Value Status(const std::string& name) {
    auto p = api_->Get(res::kPods, "default", name);
    return p.ok() && p->Find("status") ? *p->Find("status") : json::Value();
  }
  // Waits until the apiserver shows `pred` of the pod's status.
  bool StatusEventually(const std::string& name, const std::function<bool(const json::Value&)>& pred) {
    return Eventually([&] { return pred(Status(name)); });
  }
  static std::string ContainerState(const json::Value& status) {
    const json::Value* cs = status.Get({"containerStatuses"});
    if (cs == nullptr || cs->size() == 0) return "";
    const json::Value& c = cs->as_array()[0];
    for (const char* s : {"running", "waiting", "terminated"}) {
      if (c.Get({"state", s})) return std::string(s) + ":" + c.GetString({"state", s, "reason"});
    }
    return "";
  }

  testing::FakeClock clock_;
  runtime::FakeRuntime runtime_{clock_};
  PodSyncOptions options_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<client::ApiClient> api_;
  std::string dir_;
  std::unique_ptr<controllers::Informer> pods_;
  std::unique_ptr<VolumeManager> volumes_;
  std::unique_ptr<StatusManager> status_;
  std::unique_ptr<PodSync> sync_;
};

TEST_F(PodSyncTest, AlwaysRestartsWithCrashLoopBackOffDoubling) {
  Create("web", "Always");
  Sync("web");
  std::string id = ContainerId(Uid("web"), "c");
  ASSERT_TRUE(StatusEventually("web", [](const json::Value& s) {
    return s.GetString({"phase"}) == "Running" && ContainerState(s) == "running:";
  }));
  // First crash: restarted at once.
  runtime_.ExitForTest(id, 1);
  Sync("web");
  EXPECT_EQ(runtime_.Inspect(id)->runs, 2);
  EXPECT_EQ(runtime_.Inspect(id)->state, runtime::State::kRunning);
  // Second crash: 10 s of back-off.
  runtime_.ExitForTest(id, 1);
  Sync("web");
  EXPECT_EQ(runtime_.Inspect(id)->state, runtime::State::kExited);
  ASSERT_TRUE(StatusEventually("web", [](const json::Value& s) { return ContainerState(s) == "waiting:CrashLoopBackOff"; }));
  json::Value st = Status("web");
  EXPECT_EQ(st.Get({"containerStatuses"})->as_array()[0].Get({"restartCount"})->as_int(), 1);
  EXPECT_EQ(st.Get({"containerStatuses"})->as_array()[0].Get({"lastState", "terminated", "exitCode"})->as_int(), 1);
  clock_.Advance(absl::Seconds(9));
  Sync("web");
  EXPECT_EQ(runtime_.Inspect(id)->state, runtime::State::kExited) << "still backing off at 9 s";
  clock_.Advance(absl::Seconds(1));
  Sync("web");
  EXPECT_EQ(runtime_.Inspect(id)->state, runtime::State::kRunning);
  EXPECT_EQ(runtime_.Inspect(id)->runs, 3);
  // Third crash: 20 s.
  runtime_.ExitForTest(id, 2);
  clock_.Advance(absl::Seconds(19));
  Sync("web");
  EXPECT_EQ(runtime_.Inspect(id)->state, runtime::State::kExited);
  clock_.Advance(absl::Seconds(1));
  Sync("web");
  EXPECT_EQ(runtime_.Inspect(id)->state, runtime::State::kRunning);
  ASSERT_TRUE(StatusEventually("web", [](const json::Value& s) {
    return ContainerState(s) == "running:" && s.Get({"containerStatuses"})->as_array()[0].Get({"restartCount"})->as_int() == 3;
  }));
}

TEST_F(PodSyncTest, NeverAndOnFailureEndInTheRightPhase) {
  Create("ok", "Never");
  Create("bad", "Never");
  Create("retry", "OnFailure");
  for (const char* n : {"ok", "bad", "retry"}) Sync(n);
  runtime_.ExitForTest(ContainerId(Uid("ok"), "c"), 0);
  runtime_.ExitForTest(ContainerId(Uid("bad"), "c"), 3);
  runtime_.ExitForTest(ContainerId(Uid("retry"), "c"), 3);
  for (const char* n : {"ok", "bad", "retry"}) Sync(n);
  EXPECT_TRUE(StatusEventually("ok", [](const json::Value& s) {
    return s.GetString({"phase"}) == "Succeeded" && ContainerState(s) == "terminated:Completed";
  }));
  EXPECT_TRUE(StatusEventually("bad", [](const json::Value& s) {
    return s.GetString({"phase"}) == "Failed" && ContainerState(s) == "terminated:Error";
  }));
  EXPECT_EQ(runtime_.Inspect(ContainerId(Uid("retry"), "c"))->runs, 2) << "OnFailure restarts a failed container";
  runtime_.ExitForTest(ContainerId(Uid("retry"), "c"), 0);
  Sync("retry");
  EXPECT_TRUE(StatusEventually("retry", [](const json::Value& s) { return s.GetString({"phase"}) == "Succeeded"; }));
}

TEST_F(PodSyncTest, InitContainersRunInOrderBeforeTheMainOne) {
  Create("staged", "Always",
         R"("initContainers":[{"name":"first","image":"img","command":["a"]},{"name":"second","image":"img","command":["b"]}],)");
  std::string uid = Uid("staged");
  Sync("staged");
  EXPECT_TRUE(runtime_.Inspect(ContainerId(uid, "first")).ok());
  EXPECT_FALSE(runtime_.Inspect(ContainerId(uid, "second")).ok());
  EXPECT_FALSE(runtime_.Inspect(ContainerId(uid, "c")).ok());
  ASSERT_TRUE(StatusEventually("staged", [](const json::Value& s) { return s.GetString({"phase"}) == "Pending"; }));
  runtime_.ExitForTest(ContainerId(uid, "first"), 0);
  Sync("staged");
  EXPECT_TRUE(runtime_.Inspect(ContainerId(uid, "second")).ok());
  EXPECT_FALSE(runtime_.Inspect(ContainerId(uid, "c")).ok());
  runtime_.ExitForTest(ContainerId(uid, "second"), 0);
  Sync("staged");
  EXPECT_EQ(runtime_.Inspect(ContainerId(uid, "c"))->state, runtime::State::kRunning);
  EXPECT_TRUE(StatusEventually("staged", [](const json::Value& s) {
    const json::Value* conditions = s.Get({"conditions"});
    if (s.GetString({"phase"}) != "Running" || conditions == nullptr) return false;
    for (const json::Value& c : conditions->as_array()) {
      if (c.GetString({"type"}) == "Initialized") return c.GetString({"status"}) == "True";
    }
    return false;
  }));
}

TEST_F(PodSyncTest, DeletedPodIsStoppedThenRemovedFromTheApi) {
  Create("gone", "Always");
  Sync("gone");
  std::string id = ContainerId(Uid("gone"), "c");
  ASSERT_EQ(runtime_.Inspect(id)->state, runtime::State::kRunning);
  // Bound pods are deleted gracefully: the object stays until the agent confirms.
  ASSERT_TRUE(api_->Delete(res::kPods, "default", "gone").ok());
  ASSERT_TRUE(Eventually([&] {
    auto p = pods_->Get("default/gone");
    return p != nullptr && p->Get({"metadata", "deletionTimestamp"}) != nullptr;
  })) << "the agent's status reports must not end a graceful deletion";
  Sync("gone");
  EXPECT_FALSE(runtime_.Inspect(id).ok()) << "stopped and removed";
  EXPECT_TRUE(Eventually([&] { return api_->Get(res::kPods, "default", "gone").status().code() == absl::StatusCode::kNotFound; }));
}

TEST_F(PodSyncTest, AfterARebootLostRunsAreRestartedPerPolicy) {
  Create("always", "Always");
  Create("never", "Never");
  Create("onfailure", "OnFailure");
  for (const char* n : {"always", "never", "onfailure"}) Sync(n);
  runtime_.ExitForTest(ContainerId(Uid("always"), "c"), 1);
  Sync("always");
  auto restarts = [](const json::Value& s) { return s.Get({"containerStatuses"})->as_array()[0].Get({"restartCount"})->as_int(); };
  ASSERT_TRUE(StatusEventually("always", [&](const json::Value& s) { return ContainerState(s) == "running:" && restarts(s) == 1; }));
  for (const char* n : {"never", "onfailure"}) {
    ASSERT_TRUE(StatusEventually(n, [](const json::Value& s) { return ContainerState(s) == "running:"; }));
  }
  // The new agent learns what ran from its informer's cache: wait until the cache shows it too.
  for (const char* n : {"always", "never", "onfailure"}) {
    ASSERT_TRUE(Eventually([&] {
      auto cached = pods_->Get(std::string("default/") + n);
      if (!cached || !cached->Find("status") || ContainerState(*cached->Find("status")) != "running:") return false;
      return std::string(n) != "always" || restarts(*cached->Find("status")) == 1;
    }));
  }
  // The machine reboots: processes and the runtime's records are gone; a new agent process
  // (new sync loop, empty runtime) finds the pods the API still shows running.
  runtime::FakeRuntime rebooted(clock_);
  PodSync after(api_.get(), *pods_, rebooted, *volumes_, *status_, options_, clock_);
  for (const char* n : {"always", "never", "onfailure"}) SyncWith(after, n);

  auto always = rebooted.Inspect(ContainerId(Uid("always"), "c"));
  ASSERT_TRUE(always.ok());
  EXPECT_EQ(always->state, runtime::State::kRunning);
  EXPECT_EQ(always->runs, 3) << "the count goes on from the API's, never back";
  ASSERT_TRUE(StatusEventually("always", [&](const json::Value& s) {
    return ContainerState(s) == "running:" && restarts(s) == 2 &&
           s.Get({"containerStatuses"})->as_array()[0].GetString({"lastState", "terminated", "reason"}) ==
               "ContainerStatusUnknown";
  }));
  EXPECT_EQ(rebooted.Inspect(ContainerId(Uid("onfailure"), "c"))->runs, 2) << "a lost run counts as a failure";

  EXPECT_FALSE(rebooted.Inspect(ContainerId(Uid("never"), "c")).ok()) << "Never: not run again";
  ASSERT_TRUE(StatusEventually("never", [](const json::Value& s) {
    return s.GetString({"phase"}) == "Failed" && ContainerState(s) == "terminated:ContainerStatusUnknown" &&
           s.Get({"containerStatuses"})->as_array()[0].Get({"state", "terminated", "exitCode"})->as_int() == 137;
  }));
  SyncWith(after, "never");
  EXPECT_FALSE(rebooted.Inspect(ContainerId(Uid("never"), "c")).ok()) << "nor on a later pass";
  // `after` registered handlers on the running informer: stop it before `after` goes away.
  pods_->Stop();
}

}  // namespace
}  // namespace berth::agent
