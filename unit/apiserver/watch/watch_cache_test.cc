#include "apiserver/watch/watch_cache.h"

#include <condition_variable>
#include <mutex>

#include "apiserver/storage/memory/memory_store.h"
#include "core/strings/strings.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace berth::apiserver::watch {
namespace {

class RecordingSink : public WatchSink {
 public:
  bool Send(EventType type, const std::string& object_json, uint64_t revision) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back({type, object_json, revision});
    cv_.notify_all();
    return true;
  }
  bool SendBookmark(uint64_t) override { return true; }
  void Fail(const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = status;
    ended_ = true;
    cv_.notify_all();
  }
  void End() override {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }
  size_t Backlog() const override { return backlog_; }
  bool Gone() const override { return false; }

  struct Ev {
    EventType type;
    std::string json;
    uint64_t revision;
  };
  // Waits (with a deadline, no sleeping) until `n` events arrived or the stream ended.
  std::vector<Ev> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return events_.size() >= n || ended_; });
    return events_;
  }
  bool WaitEnded() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return ended_; });
  }
  absl::Status failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return failure_;
  }
  size_t backlog_ = 0;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Ev> events_;
  bool ended_ = false;
  absl::Status failure_;
};

storage::Encoder Obj(std::string labels) {
  return [labels](uint64_t rev) {
    return StrCat("{\"metadata\":{\"resourceVersion\":\"", rev, "\",\"labels\":", labels, "}}");
  };
}

class WatchCacheTest : public ::testing::Test {
 protected:
  berth::testing::FakeClock clock_;
  storage::MemoryStore store_{clock_, storage::RetentionPolicy{2, absl::ZeroDuration()}};
};

TEST_F(WatchCacheTest, DeliversInOrderFromARevision) {
  WatchCacheOptions opts;
  opts.window_events = 100;
  WatchCache cache(store_, clock_, opts);
  ASSERT_TRUE(store_.Create("/r/a", Obj("{}")).ok());
  auto sink = std::make_shared<RecordingSink>();
  WatchFilter f;
  f.key_prefix = "/r/";
  ASSERT_TRUE(cache.Watch(1, f, sink).ok());
  ASSERT_TRUE(store_.Create("/r/b", Obj("{}")).ok());
  ASSERT_TRUE(store_.Update("/r/a", Obj("{}"), 1).ok());
  ASSERT_TRUE(store_.Create("/other/c", Obj("{}")).ok());
  ASSERT_TRUE(store_.Delete("/r/b", Obj("{}"), std::nullopt).ok());
  auto events = sink->WaitFor(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].revision, 2u);
  EXPECT_EQ(events[0].type, EventType::kAdded);
  EXPECT_EQ(events[1].type, EventType::kModified);
  EXPECT_EQ(events[2].type, EventType::kDeleted);
  EXPECT_EQ(events[2].revision, 5u);
}

TEST_F(WatchCacheTest, ReplaysFromTheStoreBeyondTheWindow) {
  WatchCacheOptions opts;
  opts.window_events = 2;
  WatchCache cache(store_, clock_, opts);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store_.Create(StrCat("/r/", i), Obj("{}")).ok());
  // Let the window fill past what the watch asks for.
  auto probe = std::make_shared<RecordingSink>();
  WatchFilter all;
  all.key_prefix = "/r/";
  ASSERT_TRUE(cache.Watch(5, all, probe).ok());
  ASSERT_TRUE(store_.Create("/r/x", Obj("{}")).ok());
  ASSERT_EQ(probe->WaitFor(2).size(), 2u);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(cache.Watch(1, all, sink).ok());
  auto events = sink->WaitFor(6);
  ASSERT_EQ(events.size(), 6u);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].revision, i + 2);
}

TEST_F(WatchCacheTest, CompactedRevisionIsExpired) {
  WatchCache cache(store_, clock_);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store_.Create(StrCat("/r/", i), Obj("{}")).ok());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(store_.CompactNow().ok());
  auto sink = std::make_shared<RecordingSink>();
  WatchFilter f;
  f.key_prefix = "/r/";
  absl::Status s = cache.Watch(1, f, sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
}

TEST_F(WatchCacheTest, SelectorTransitionsBecomeAddedAndDeleted) {
  WatchCache cache(store_, clock_);
  auto sink = std::make_shared<RecordingSink>();
  WatchFilter f;
  f.key_prefix = "/r/";
  f.labels = *selector::LabelSelector::Parse("app=web");
  ASSERT_TRUE(cache.Watch(0, f, sink).ok());
  ASSERT_TRUE(store_.Create("/r/a", Obj(R"({"app":"db"})")).ok());
  ASSERT_TRUE(store_.Update("/r/a", Obj(R"({"app":"web"})"), 1).ok());
  ASSERT_TRUE(store_.Update("/r/a", Obj(R"({"app":"db"})"), 2).ok());
  auto events = sink->WaitFor(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, EventType::kAdded);
  EXPECT_EQ(events[1].type, EventType::kDeleted);
}

TEST_F(WatchCacheTest, SlowWatcherIsClosed) {
  WatchCacheOptions opts;
  opts.max_backlog_bytes = 10;
  WatchCache cache(store_, clock_, opts);
  auto sink = std::make_shared<RecordingSink>();
  sink->backlog_ = 1000;
  WatchFilter f;
  f.key_prefix = "/r/";
  ASSERT_TRUE(cache.Watch(0, f, sink).ok());
  ASSERT_TRUE(store_.Create("/r/a", Obj("{}")).ok());
  EXPECT_TRUE(sink->WaitEnded());
}

}  // namespace
}  // namespace berth::apiserver::watch
