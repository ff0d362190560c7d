#include "apiserver/storage/rocksdb/rocksdb_store.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "unit/apiserver/storage/store_conformance.h"

namespace berth::apiserver::storage {
namespace {

std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-rocks-XXXXXX").string();
  char* dir = mkdtemp(tmpl.data());
  return dir ? std::string(dir) : "";
}

struct RocksFactory {
  std::string dir;
  std::unique_ptr<Store> Make(berth::testing::FakeClock& clock, RetentionPolicy retention) {
    if (!dir.empty()) std::filesystem::remove_all(dir);
    dir = TempDir();
    RocksDbOptions options;
    options.retention = retention;
    options.compaction_interval = absl::Hours(1);
    auto store = RocksDbStore::Open(dir, clock, options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  ~RocksFactory() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(RocksDb, StoreConformanceTest, RocksFactory);

TEST(RocksDbStoreTest, RecoversRevisionObjectsAndLogAfterReopen) {
  berth::testing::FakeClock clock;
  std::string dir = TempDir();
  {
    auto store = RocksDbStore::Open(dir, clock);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Create("/a", Value("1")).ok());
    ASSERT_TRUE((*store)->Update("/a", Value("2"), 1).ok());
    ASSERT_TRUE((*store)->Create("/b", Value("3")).ok());
  }
  auto store = RocksDbStore::Open(dir, clock);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->CurrentRevision(), 3u);
  auto a = (*store)->Get("/a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, "2@2");
  auto log = (*store)->ReadLog(0, 0);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 3u);
  ASSERT_TRUE((*store)->Create("/c", Value("4")).ok());
  EXPECT_EQ((*store)->CurrentRevision(), 4u);
  store->reset();
  std::filesystem::remove_all(dir);
}

// Reads answered from files, where the Bloom filters decide which files are read: a filter may
// only skip files that cannot hold the key, so every key present is found, every absent key is
// not, and a create still sees a key that only a file holds.
TEST(RocksDbStoreTest, ReadsFromFilesFindEveryKeyAndNoOther) {
  berth::testing::FakeClock clock;
  std::string dir = TempDir();
  {
    auto store = RocksDbStore::Open(dir, clock);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 2000; i += 2) ASSERT_TRUE((*store)->Create(absl::StrCat("/k/", i), Value("v")).ok());
    ASSERT_TRUE((*store)->CompactFiles().ok());  // flushed into SST files
    for (int i = 1; i < 2000; i += 2) ASSERT_TRUE((*store)->Create(absl::StrCat("/k/", i), Value("w")).ok());
    ASSERT_TRUE((*store)->CompactFiles().ok());
  }
  auto store = RocksDbStore::Open(dir, clock);
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 2000; ++i) {
    auto kv = (*store)->Get(absl::StrCat("/k/", i));
    ASSERT_TRUE(kv.ok()) << i << ": " << kv.status();
    EXPECT_EQ(kv->value.substr(0, 1), i % 2 == 0 ? "v" : "w") << i;
    EXPECT_EQ((*store)->Get(absl::StrCat("/k/", i, "x")).status().code(), absl::StatusCode::kNotFound) << i;
    EXPECT_EQ((*store)->Get(absl::StrCat("/k/", i + 2000)).status().code(), absl::StatusCode::kNotFound) << i;
  }
  EXPECT_EQ((*store)->Create("/k/7", Value("again")).status().code(), absl::StatusCode::kAlreadyExists);
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(RocksDbStoreTest, ConcurrentWritersShareSyncs) {
  berth::testing::FakeClock clock;
  std::string dir = TempDir();
  auto store = RocksDbStore::Open(dir, clock);
  ASSERT_TRUE(store.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) ASSERT_TRUE((*store)->Create(absl::StrCat("/g/", t, "/", i), Value("x")).ok());
    });
  }
  for (auto& t : threads) t.join();
  CommitStats stats = (*store)->Stats();
  EXPECT_EQ(stats.mutations, 320u);
  // With 16 writers blocked on syncs, batches must hold more than one mutation on average.
  EXPECT_LT(stats.batches, stats.mutations);
  store->reset();
  std::filesystem::remove_all(dir);
}

// A write that finds the store idle is committed on its caller's thread (no hand-off to the
// commit thread and back); with the option off it is the commit thread's, as under load.
TEST(RocksDbStoreTest, AWriteToAnIdleStoreIsCommittedOnItsCallersThread) {
  for (bool inline_commit : {true, false}) {
    berth::testing::FakeClock clock;
    std::string dir = TempDir();
    RocksDbOptions options;
    options.commit_idle_writes_inline = inline_commit;
    auto store = RocksDbStore::Open(dir, clock, options);
    ASSERT_TRUE(store.ok());
    std::atomic<bool> done{false};
    std::thread::id committer;
    uint64_t revision = 0;
    (*store)->CreateAsync("/idle", Value("v"), [&](absl::StatusOr<uint64_t> rev) {
      committer = std::this_thread::get_id();
      revision = rev.value_or(0);
      done = true;
    });
    for (int i = 0; i < 2000 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(done);
    EXPECT_EQ(revision, 1u);
    EXPECT_EQ(committer == std::this_thread::get_id(), inline_commit);
    auto kv = (*store)->Get("/idle");
    ASSERT_TRUE(kv.ok());
    EXPECT_EQ(kv->revision, 1u);
    store->reset();
    std::filesystem::remove_all(dir);
  }
}

// Point reads are answered from the read cache once an object was read: a read that begins after
// a write was acknowledged must still see that write (or a later one), never the cached value
// it replaced, while readers keep filling the cache as the writes go on.
TEST(RocksDbStoreTest, AReadAfterAnAcknowledgedWriteSeesItThoughReadsAreCached) {
  berth::testing::FakeClock clock;
  std::string dir = TempDir();
  RocksDbOptions options;
  options.sync = false;
  auto store = RocksDbStore::Open(dir, clock, options);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Create("/hot", Value("v")).ok());
  std::atomic<uint64_t> acknowledged{1};
  std::atomic<bool> done{false};
  std::atomic<int> stale{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done) {
        uint64_t floor = acknowledged.load();
        auto kv = (*store)->Get("/hot");
        if (!kv.ok() || kv->revision < floor) ++stale;
        ++reads;
      }
    });
  }
  uint64_t rev = 1;
  for (int i = 0; i < 2000; ++i) {
    auto next = (*store)->Update("/hot", Value(absl::StrCat("v", i)), rev);
    ASSERT_TRUE(next.ok()) << next.status();
    rev = *next;
    acknowledged = rev;
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(stale.load(), 0) << "of " << reads.load() << " reads";
  auto kv = (*store)->Get("/hot");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->value, absl::StrCat("v1999@", rev));
  ASSERT_TRUE((*store)->Delete("/hot", Value("gone"), rev).ok());
  EXPECT_EQ((*store)->Get("/hot").status().code(), absl::StatusCode::kNotFound);
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::apiserver::storage
