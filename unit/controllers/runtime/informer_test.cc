// The informer against a real in-process apiserver (RocksDB in a temp dir, port 0): the
// envtest pattern of style.md.

#include "controllers/runtime/informer.h"

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "apiserver/server/apiserver.h"
#include "core/client/api_client.h"
#include "core/json/codec.h"
#include "gtest/gtest.h"
#include "testing/test_apiserver.h"

namespace berth::controllers {
namespace {

class InformerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-informer-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    apiserver::ApiServerOptions opts;
    opts.data_dir = dir_ + "/db";
    opts.retention = {5, absl::ZeroDuration()};
    opts.compaction_interval = absl::Milliseconds(20);
    opts.bookmark_interval = std::chrono::hours(1);  // no bookmark may move a stale watch forward
    opts.work_threads = 8;
    auto t = testing::StartTestApiServer(opts);
    ASSERT_TRUE(t.ok()) << t.status();
    server_ = std::move(t->server);
    api_ = std::move(t->api);
  }
  void TearDown() override {
    // The server first: closing the listener while the client's pooled connections are being torn
    // down raced inside cpprestsdk (a rare SEGFAULT in asio's epoll reactor at teardown).
    server_.reset();
    api_.reset();
    std::filesystem::remove_all(dir_);
  }

  json::Value ConfigMap(const std::string& name, const std::string& app) {
    return *json::Parse("{\"metadata\":{\"name\":\"" + name + "\",\"labels\":{\"app\":\"" + app + "\"}}}");
  }

  std::string dir_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<client::ApiClient> api_;
};

// Waits on a condition the informer's handlers signal (no sleeping).
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> adds, deletes;
  bool WaitFor(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(20), pred);
  }
};

TEST_F(InformerTest, ListsWatchesAndIndexes) {
  ASSERT_TRUE(api_->Create(client::resources::kConfigMaps, "default", ConfigMap("a", "x")).ok());
  Informer informer(*api_, client::resources::kConfigMaps, "default");
  Seen seen;
  informer.AddHandlers({[&](const ObjectPtr& o) {
                          std::lock_guard<std::mutex> lock(seen.mu);
                          seen.adds.push_back(o->GetString({"metadata", "name"}));
                          seen.cv.notify_all();
                        },
                        nullptr,
                        [&](const ObjectPtr& o) {
                          std::lock_guard<std::mutex> lock(seen.mu);
                          seen.deletes.push_back(o->GetString({"metadata", "name"}));
                          seen.cv.notify_all();
                        }});
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(20)));
  ASSERT_TRUE(api_->Create(client::resources::kConfigMaps, "default", ConfigMap("b", "y")).ok());
  ASSERT_TRUE(api_->Delete(client::resources::kConfigMaps, "default", "a").ok());
  ASSERT_TRUE(seen.WaitFor([&] { return seen.adds.size() == 2 && seen.deletes.size() == 1; }));
  EXPECT_EQ(seen.adds, (std::vector<std::string>{"a", "b"}));
  EXPECT_NE(informer.Get("default/b"), nullptr);
  EXPECT_EQ(informer.Get("default/a"), nullptr);
  EXPECT_EQ(informer.ByIndex("namespace", "default").size(), 1u);
  informer.Stop();
}

TEST_F(InformerTest, RelistsWhenItsRevisionWasCompacted) {
  client::ListOptions only_x;
  only_x.label_selector = "app=x";
  Informer informer(*api_, client::resources::kConfigMaps, "default", only_x);
  informer.SetWatchTimeout(1);
  Seen seen;
  informer.AddHandlers({[&](const ObjectPtr& o) {
                          std::lock_guard<std::mutex> lock(seen.mu);
                          seen.adds.push_back(o->GetString({"metadata", "name"}));
                          seen.cv.notify_all();
                        },
                        nullptr, nullptr});
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(20)));
  EXPECT_EQ(informer.lists(), 1);
  // Writes the informer does not select move the store on without moving the informer's
  // revision; compaction then drops the revision its next watch asks for (410 -> relist).
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(api_->Create(client::resources::kConfigMaps, "default", ConfigMap("other" + std::to_string(i), "y")).ok());
  }
  ASSERT_TRUE(informer.WaitForLists(2, absl::Seconds(20)));
  ASSERT_TRUE(api_->Create(client::resources::kConfigMaps, "default", ConfigMap("late", "x")).ok());
  ASSERT_TRUE(seen.WaitFor([&] { return !seen.adds.empty() && seen.adds.back() == "late"; }));
  EXPECT_GE(informer.lists(), 2);
  informer.Stop();
}

}  // namespace
}  // namespace berth::controllers
