#pragma once
// File: unit/apiserver/storage/store_conformance.h
// The behaviour every Store backend must show. Instantiate with a factory:
//   struct MyFactory { std::unique_ptr<Store> Make(FakeClock&, RetentionPolicy); };
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, StoreConformanceTest, MyFactory);

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "apiserver/storage/store.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace berth::apiserver::storage {

inline Encoder Value(std::string v) {
  return [v = std::move(v)](uint64_t rev) { return absl::StrCat(v, "@", rev); };
}

template <typename Factory>
class StoreConformanceTest : public ::testing::Test {
 protected:
  void Make(RetentionPolicy retention = {}) { store_ = factory_.Make(clock_, retention); }
  void SetUp() override { Make(); }
  void TearDown() override { store_.reset(); }

  berth::testing::FakeClock clock_;
  Factory factory_;
  std::unique_ptr<Store> store_;
};

TYPED_TEST_SUITE_P(StoreConformanceTest);

TYPED_TEST_P(StoreConformanceTest, CreateGetUpdateDelete) {
  Store& s = *this->store_;
  auto r1 = s.Create("/a/x", Value("v1"));
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(*r1, 1u);
  EXPECT_EQ(s.Create("/a/x", Value("dup")).status().code(), absl::StatusCode::kAlreadyExists);
  auto got = s.Get("/a/x");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value, "v1@1");
  EXPECT_EQ(got->revision, 1u);
  EXPECT_EQ(s.Update("/a/x", Value("v2"), 7).status().code(), absl::StatusCode::kAborted);
  auto r2 = s.Update("/a/x", Value("v2"), 1);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, 2u);
  EXPECT_EQ(s.Update("/a/missing", Value("v"), 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.Delete("/a/x", Value("gone"), 1).status().code(), absl::StatusCode::kAborted);
  auto r3 = s.Delete("/a/x", Value("gone"), std::nullopt);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(*r3, 3u);
  EXPECT_EQ(s.Get("/a/x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.Delete("/a/x", Value("gone"), std::nullopt).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.CurrentRevision(), 3u);
}

TYPED_TEST_P(StoreConformanceTest, ListByPrefixWithPagesAtOneRevision) {
  Store& s = *this->store_;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.Create(absl::StrCat("/p/ns/o", i), Value("x")).ok());
  ASSERT_TRUE(s.Create("/p/nsx/other", Value("x")).ok());
  ASSERT_TRUE(s.Create("/q/ns/o", Value("x")).ok());
  auto all = s.List("/p/ns/", {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 5u);
  EXPECT_EQ(all->revision, 7u);
  EXPECT_FALSE(all->more);

  ListOptions page;
  page.limit = 2;
  auto p1 = s.List("/p/ns/", page);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->items.size(), 2u);
  EXPECT_TRUE(p1->more);
  // A write between pages must not show in later pages.
  ASSERT_TRUE(s.Create("/p/ns/o9", Value("late")).ok());
  ASSERT_TRUE(s.Delete("/p/ns/o4", Value("x"), std::nullopt).ok());
  std::vector<std::string> keys = {p1->items[0].key, p1->items[1].key};
  ListOptions next = page;
  next.at_revision = p1->revision;
  next.start_after = p1->items.back().key;
  while (true) {
    auto p = s.List("/p/ns/", next);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->revision, p1->revision);
    for (auto& kv : p->items) keys.push_back(kv.key);
    if (!p->more) break;
    next.start_after = p->items.back().key;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"/p/ns/o0", "/p/ns/o1", "/p/ns/o2", "/p/ns/o3", "/p/ns/o4"}));
  ListOptions bogus;
  bogus.at_revision = 3;
  EXPECT_EQ(s.List("/p/ns/", bogus).status().code(), absl::StatusCode::kOutOfRange);
}

TYPED_TEST_P(StoreConformanceTest, ChangeLogAndSubscriptionInOrder) {
  Store& s = *this->store_;
  absl::Mutex mu;
  std::vector<ChangeEvent> seen;
  auto sub = s.Subscribe([&](const ChangeEvent& e) {
    absl::MutexLock lock(&mu);
    seen.push_back(e);
  });
  ASSERT_TRUE(s.Create("/k", Value("a")).ok());
  ASSERT_TRUE(s.Update("/k", Value("b"), 1).ok());
  ASSERT_TRUE(s.Delete("/k", Value("c"), 2).ok());
  {
    absl::MutexLock lock(&mu);
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].type, ChangeEvent::Type::kAdded);
    EXPECT_EQ(seen[1].type, ChangeEvent::Type::kModified);
    EXPECT_EQ(seen[1].prev_value, "a@1");
    EXPECT_EQ(seen[2].type, ChangeEvent::Type::kDeleted);
    EXPECT_EQ(seen[2].value, "c@3");
  }
  auto log = s.ReadLog(1, 0);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].revision, 2u);
  EXPECT_EQ((*log)[0].value, "b@2");
  EXPECT_EQ((*log)[1].key, "/k");
  sub.reset();
  ASSERT_TRUE(s.Create("/k2", Value("a")).ok());
  absl::MutexLock lock(&mu);
  EXPECT_EQ(seen.size(), 3u);
}

TYPED_TEST_P(StoreConformanceTest, CompactionHonoursCountAndAge) {
  this->Make(RetentionPolicy{3, absl::Minutes(5)});
  Store& s = *this->store_;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.Create(absl::StrCat("/c", i), Value("x")).ok());
  // Young events are kept even beyond the count.
  ASSERT_TRUE(s.CompactNow().ok());
  EXPECT_EQ(s.CompactedRevision(), 0u);
  this->clock_.Advance(absl::Minutes(6));
  auto cut = s.CompactNow();
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(*cut, 7u);
  EXPECT_EQ(s.ReadLog(2, 0).status().code(), absl::StatusCode::kOutOfRange);
  auto rest = s.ReadLog(7, 0);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 3u);
  // Objects are untouched by log compaction.
  EXPECT_TRUE(s.Get("/c0").ok());
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentWritersGetUniqueOrderedRevisions) {
  Store& s = *this->store_;
  absl::Mutex mu;
  std::vector<uint64_t> published;
  auto sub = s.Subscribe([&](const ChangeEvent& e) {
    absl::MutexLock lock(&mu);
    published.push_back(e.revision);
  });
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> revs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = s.Create(absl::StrCat("/w/", t, "/", i), Value("x"));
        ASSERT_TRUE(r.ok());
        revs[t].push_back(*r);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> all;
  for (auto& v : revs) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.rbegin(), static_cast<uint64_t>(kThreads * kPerThread));
  absl::MutexLock lock(&mu);
  ASSERT_EQ(published.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < published.size(); ++i) EXPECT_EQ(published[i], i + 1);
}

TYPED_TEST_P(StoreConformanceTest, ConcurrentCompareAndSwapHasOneWinner) {
  Store& s = *this->store_;
  ASSERT_TRUE(s.Create("/cas", Value("0")).ok());
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      if (s.Update("/cas", Value("w"), 1).ok()) wins++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TYPED_TEST_P(StoreConformanceTest, CreateAsyncAnswersOnceDurable) {
  Store& s = *this->store_;
  absl::Mutex mu;
  std::vector<absl::StatusOr<uint64_t>> results;
  for (const char* key : {"/async/a", "/async/b", "/async/a"}) {
    s.CreateAsync(key, Value("x"), [&](absl::StatusOr<uint64_t> r) {
      absl::MutexLock lock(&mu);
      results.push_back(std::move(r));
    });
  }
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(+[](decltype(results)* r) { return r->size() == 3; }, &results),
                                  absl::Seconds(10)));
  int ok = 0, exists = 0;
  for (auto& r : results) {
    ok += r.ok();
    exists += r.status().code() == absl::StatusCode::kAlreadyExists;
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(exists, 1);
  EXPECT_TRUE(s.Get("/async/b").ok());
}

REGISTER_TYPED_TEST_SUITE_P(StoreConformanceTest, CreateAsyncAnswersOnceDurable, CreateGetUpdateDelete,
                            ListByPrefixWithPagesAtOneRevision, ChangeLogAndSubscriptionInOrder,
                            CompactionHonoursCountAndAge, ConcurrentWritersGetUniqueOrderedRevisions,
                            ConcurrentCompareAndSwapHasOneWinner);

}  // namespace berth::apiserver::storage
