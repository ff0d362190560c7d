#include "controllers/runtime/workqueue.h"

#include <map>

#include "controllers/runtime/expectations.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace berth::controllers {
namespace {

TEST(WorkQueueTest, DeduplicatesWaitingKeys) {
  berth::testing::FakeClock clock;
  WorkQueue q(clock);
  q.Add("a");
  q.Add("b");
  q.Add("a");
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(q.TryGet(), "a");
  EXPECT_EQ(q.TryGet(), "b");
  EXPECT_EQ(q.TryGet(), std::nullopt);
}

TEST(WorkQueueTest, KeyIsNeverHandedOutTwiceWhileProcessing) {
  berth::testing::FakeClock clock;
  WorkQueue q(clock);
  q.Add("a");
  ASSERT_EQ(q.TryGet(), "a");
  q.Add("a");  // re-added while a worker has it
  EXPECT_EQ(q.TryGet(), std::nullopt);
  q.Done("a");
  EXPECT_EQ(q.TryGet(), "a");  // now it comes back, once
  q.Done("a");
  EXPECT_EQ(q.TryGet(), std::nullopt);
}

TEST(WorkQueueTest, RankingOrdersReadyKeysThenArrival) {
  berth::testing::FakeClock clock;
  WorkQueue q(clock);
  std::map<std::string, int64_t> priority = {{"low", 0}, {"high", 1000}, {"mid", 10}, {"mid2", 10}};
  q.SetRanking([&](const std::string& key) { return WorkQueue::Rank{-priority[key], 0, 0}; });
  for (const char* k : {"low", "mid", "high", "mid2"}) q.Add(k);
  EXPECT_EQ(q.Len(), 4u);
  EXPECT_EQ(q.TryGet(), "high");
  EXPECT_EQ(q.TryGet(), "mid");
  q.Add("mid");  // re-added while processing: comes back in rank order once done
  q.Done("mid");
  EXPECT_EQ(q.TryGet(), "mid2");
  EXPECT_EQ(q.TryGet(), "mid");
  EXPECT_EQ(q.TryGet(), "low");
  EXPECT_EQ(q.TryGet(), std::nullopt);
  // Delayed keys keep their rank.
  q.Done("low");
  q.AddAfter("low", absl::Seconds(1));
  q.Done("high");
  q.AddAfter("high", absl::Seconds(1));
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(q.TryGet(), "high");
}

TEST(WorkQueueTest, AddAllRanksKeysAddedTogether) {
  berth::testing::FakeClock clock;
  WorkQueue q(clock);
  std::map<std::string, int64_t> priority = {{"low", 0}, {"high", 1000}};
  q.SetRanking([&](const std::string& key) { return WorkQueue::Rank{-priority[key], 0, 0}; });
  q.AddAll({"low", "high"});
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(q.TryGet(), "high");
  EXPECT_EQ(q.TryGet(), "low");
}

// The scheduler's fair share: among keys of equal rank[0], the group (rank[1]) whose head the
// order puts first pops next, and that order may change between pops.
TEST(WorkQueueTest, HeadOrderPicksAmongGroupsAtEachPop) {
  berth::testing::FakeClock clock;
  WorkQueue q(clock);
  // key -> (priority, group, age)
  std::map<std::string, WorkQueue::Rank> ranks = {{"a1", {0, 0, 1}}, {"a2", {0, 0, 2}}, {"a3", {0, 0, 3}},
                                                  {"b1", {0, 1, 4}}, {"b2", {0, 1, 5}}, {"urgent", {-10, 1, 9}}};
  q.SetRanking([&](const std::string& key) { return ranks[key]; });
  std::map<int64_t, int> served;  // group -> keys popped: the "share"
  q.SetHeadOrder([&](const WorkQueue::Rank& a, const WorkQueue::Rank& b) {
    if (served[a[1]] != served[b[1]]) return served[a[1]] < served[b[1]];
    return a[2] < b[2];
  });
  q.AddAll({"a1", "a2", "a3", "b1", "b2", "urgent"});
  std::vector<std::string> order;
  while (auto key = q.TryGet()) {
    order.push_back(*key);
    served[ranks[*key][1]]++;
  }
  // Priority first; then the groups alternate by what they were served, ties to the older head.
  EXPECT_EQ(order, (std::vector<std::string>{"urgent", "a1", "a2", "b1", "a3", "b2"}));
}

TEST(WorkQueueTest, AddAfterWaitsForTheClock) {
  berth::testing::FakeClock clock;
  WorkQueue q(clock);
  q.AddAfter("a", absl::Seconds(10));
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(absl::Seconds(9));
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(q.TryGet(), "a");
}

TEST(WorkQueueTest, RateLimitedBackoffDoublesAndForgetResets) {
  berth::testing::FakeClock clock;
  RateLimits limits;
  limits.base_delay = absl::Milliseconds(10);
  WorkQueue q(clock, limits);
  q.AddRateLimited("a");  // 10 ms
  clock.Advance(absl::Milliseconds(9));
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(absl::Milliseconds(1));
  ASSERT_EQ(q.TryGet(), "a");
  q.Done("a");
  q.AddRateLimited("a");  // 20 ms
  clock.Advance(absl::Milliseconds(19));
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(absl::Milliseconds(1));
  ASSERT_EQ(q.TryGet(), "a");
  q.Done("a");
  EXPECT_EQ(q.NumRequeues("a"), 2);
  q.Forget("a");
  EXPECT_EQ(q.NumRequeues("a"), 0);
  q.AddRateLimited("a");  // back to 10 ms
  clock.Advance(absl::Milliseconds(10));
  EXPECT_EQ(q.TryGet(), "a");
}

TEST(WorkQueueTest, OverallBucketLimitsBursts) {
  berth::testing::FakeClock clock;
  RateLimits limits;
  limits.base_delay = absl::Milliseconds(1);
  limits.qps = 10;
  limits.burst = 2;
  WorkQueue q(clock, limits);
  q.AddRateLimited("a");
  q.AddRateLimited("b");
  q.AddRateLimited("c");  // the bucket is empty: waits for a token (100 ms)
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(q.TryGet().has_value());
  EXPECT_TRUE(q.TryGet().has_value());
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(absl::Milliseconds(100));
  EXPECT_EQ(q.TryGet(), "c");
}

TEST(WorkQueueTest, ShutDownReleasesBlockedGet) {
  berth::testing::FakeClock clock;
  WorkQueue q(clock);
  std::thread t([&] { EXPECT_EQ(q.Get(), std::nullopt); });
  q.ShutDown();
  t.join();
}

TEST(ExpectationsTest, SatisfiedWhenObservedOrExpired) {
  berth::testing::FakeClock clock;
  Expectations e(clock, std::chrono::seconds(300));
  EXPECT_TRUE(e.Satisfied("rs"));
  e.ExpectCreations("rs", 2);
  EXPECT_FALSE(e.Satisfied("rs"));
  e.CreationObserved("rs");
  EXPECT_FALSE(e.Satisfied("rs"));
  e.CreationObserved("rs");
  EXPECT_TRUE(e.Satisfied("rs"));
  e.ExpectDeletions("rs", 1);
  EXPECT_FALSE(e.Satisfied("rs"));
  clock.Advance(absl::Seconds(301));
  EXPECT_TRUE(e.Satisfied("rs"));
}

}  // namespace
}  // namespace berth::controllers
