#include "apiserver/storage/prefix_mirror.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/storage/memory/memory_store.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace berth::apiserver::storage {
namespace {

Encoder Bytes(std::string value) {
  return [value = std::move(value)](uint64_t) { return value; };
}

std::vector<std::string> Items(const PrefixMirror& mirror, std::string_view prefix) {
  std::optional<std::vector<std::string>> items = mirror.List(prefix);
  EXPECT_TRUE(items.has_value()) << prefix;
  return items.value_or(std::vector<std::string>{});
}

TEST(PrefixMirrorTest, ListsWhatTheStoreHeldAndFollowsEveryAcknowledgedWrite) {
  berth::testing::FakeClock clock;
  MemoryStore store(clock);
  ASSERT_TRUE(store.Create("/registry/core/limitranges/a/one", Bytes("a1")).ok());
  ASSERT_TRUE(store.Create("/registry/core/limitranges/b/two", Bytes("b2")).ok());
  ASSERT_TRUE(store.Create("/registry/core/pods/a/p", Bytes("pod")).ok());
  auto mirror = PrefixMirror::Start(store, {"/registry/core/limitranges/"});
  ASSERT_TRUE(mirror.ok()) << mirror.status();

  EXPECT_EQ(Items(**mirror, "/registry/core/limitranges/"), (std::vector<std::string>{"a1", "b2"}));
  EXPECT_EQ(Items(**mirror, "/registry/core/limitranges/a/"), (std::vector<std::string>{"a1"}));
  EXPECT_TRUE(Items(**mirror, "/registry/core/limitranges/c/").empty());
  EXPECT_EQ((*mirror)->HasAny("/registry/core/limitranges/a/"), true);
  EXPECT_EQ((*mirror)->HasAny("/registry/core/limitranges/c/"), false);
  EXPECT_EQ((*mirror)->HasAny("/registry/core/pods/"), std::nullopt);
  EXPECT_EQ((*mirror)->Get("/registry/core/limitranges/b/two"), "b2");
  EXPECT_EQ((*mirror)->Get("/registry/core/limitranges/b/none"), std::nullopt);
  // Not mirrored: the caller must read the store.
  EXPECT_FALSE((*mirror)->List("/registry/core/pods/").has_value());
  EXPECT_FALSE((*mirror)->Covers("/registry/core/pods/a/p"));
  EXPECT_TRUE((*mirror)->Covers("/registry/core/limitranges/b/none"));

  // Each write is visible as soon as the store has answered it.
  auto created = store.Create("/registry/core/limitranges/a/three", Bytes("a3"));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(Items(**mirror, "/registry/core/limitranges/a/"), (std::vector<std::string>{"a1", "a3"}));
  ASSERT_TRUE(store.Update("/registry/core/limitranges/a/one", Bytes("a1-v2"), 1).ok());
  EXPECT_EQ(Items(**mirror, "/registry/core/limitranges/a/"), (std::vector<std::string>{"a1-v2", "a3"}));
  EXPECT_EQ((*mirror)->Get("/registry/core/limitranges/a/one"), "a1-v2");
  ASSERT_TRUE(store.Delete("/registry/core/limitranges/a/three", Bytes("gone"), std::nullopt).ok());
  EXPECT_EQ(Items(**mirror, "/registry/core/limitranges/a/"), (std::vector<std::string>{"a1-v2"}));
  EXPECT_EQ((*mirror)->Get("/registry/core/limitranges/a/three"), std::nullopt);
  // Another kind's writes change nothing here.
  ASSERT_TRUE(store.Create("/registry/core/limitrangesx/a/x", Bytes("x")).ok());
  EXPECT_EQ(Items(**mirror, "/registry/core/limitranges/"), (std::vector<std::string>{"a1-v2", "b2"}));
}

// A store that writes while the mirror lists, and then delivers a stale event late: events
// after the list's revision are kept, events the list already holds are not applied again.
class WritesDuringList final : public Store {
 public:
  explicit WritesDuringList(Store& inner, bool fail_lists = false) : inner_(inner), fail_lists_(fail_lists) {}
  absl::StatusOr<KeyValue> Get(std::string_view key) const override { return inner_.Get(key); }
  absl::StatusOr<ListResult> List(std::string_view prefix, const ListOptions& options) const override {
    if (fail_lists_) return absl::DataLossError("cannot decrypt an object");
    auto listed = inner_.List(prefix, options);
    // Published after the list's snapshot, before the mirror is ready.
    (void)inner_.Update("/registry/core/limitranges/a/one", Bytes("after-list"), listed->items[0].revision);
    // A stale copy of an event the list already holds, delivered late.
    for (const auto& sink : sinks_) {
      sink(ChangeEvent{ChangeEvent::Type::kModified, "/registry/core/limitranges/a/one", "stale", "", 1});
    }
    return listed;
  }
  absl::StatusOr<uint64_t> Create(std::string_view key, Encoder encode) override { return inner_.Create(key, encode); }
  absl::StatusOr<uint64_t> Update(std::string_view key, Encoder encode, uint64_t expected) override {
    return inner_.Update(key, encode, expected);
  }
  absl::StatusOr<uint64_t> Delete(std::string_view key, Encoder final_state, std::optional<uint64_t> expected) override {
    return inner_.Delete(key, final_state, expected);
  }
  uint64_t CurrentRevision() const override { return inner_.CurrentRevision(); }
  uint64_t CompactedRevision() const override { return inner_.CompactedRevision(); }
  absl::StatusOr<std::vector<ChangeEvent>> ReadLog(uint64_t after, size_t limit) const override {
    return inner_.ReadLog(after, limit);
  }
  std::unique_ptr<Subscription> Subscribe(std::function<void(const ChangeEvent&)> sink) override {
    sinks_.push_back(sink);
    return inner_.Subscribe(std::move(sink));
  }
  absl::StatusOr<uint64_t> CompactNow() override { return inner_.CompactNow(); }

 private:
  Store& inner_;
  bool fail_lists_;
  std::vector<std::function<void(const ChangeEvent&)>> sinks_;
};

TEST(PrefixMirrorTest, KeepsWritesMadeWhileItListedAndIgnoresEventsTheListHolds) {
  berth::testing::FakeClock clock;
  MemoryStore inner(clock);
  ASSERT_TRUE(inner.Create("/registry/core/limitranges/a/one", Bytes("before")).ok());
  ASSERT_TRUE(inner.Create("/registry/core/limitranges/a/two", Bytes("two")).ok());
  WritesDuringList store(inner);
  auto mirror = PrefixMirror::Start(store, {"/registry/core/limitranges/"});
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  EXPECT_EQ(Items(**mirror, "/registry/core/limitranges/a/"), (std::vector<std::string>{"after-list", "two"}));
}

// The apiserver then serves without the mirror (admission reads the store), so the failure must
// come back rather than leave a mirror missing objects.
TEST(PrefixMirrorTest, AListThatFailsFailsTheStart) {
  berth::testing::FakeClock clock;
  MemoryStore inner(clock);
  WritesDuringList store(inner, /*fail_lists=*/true);
  auto mirror = PrefixMirror::Start(store, {"/registry/core/limitranges/"});
  EXPECT_EQ(mirror.status().code(), absl::StatusCode::kDataLoss);
  // Its subscription went with it: writes after the failed start reach no dead sink.
  EXPECT_TRUE(inner.Create("/registry/core/limitranges/a/one", Bytes("x")).ok());
}

}  // namespace
}  // namespace berth::apiserver::storage
