#include "apiserver/storage/read_cache.h"

#include <string>

#include "gtest/gtest.h"

namespace berth::apiserver::storage {
namespace {

ChangeEvent Written(std::string key, std::string value, uint64_t revision,
                    ChangeEvent::Type type = ChangeEvent::Type::kModified) {
  ChangeEvent e;
  e.type = type;
  e.key = std::move(key);
  e.value = std::move(value);
  e.revision = revision;
  return e;
}

TEST(ReadCacheTest, AFilledObjectIsFoundUntilABatchReplacesOrDeletesIt) {
  ReadCache cache(1 << 20);
  EXPECT_FALSE(cache.Find("/a").has_value());
  cache.Fill("/a", "one", 1, cache.Epoch());
  cache.Fill("/b", "two", 2, cache.Epoch());
  auto a = cache.Find("/a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->value, "one");
  EXPECT_EQ(a->revision, 1u);

  cache.Apply({Written("/a", "three", 3), Written("/b", "", 4, ChangeEvent::Type::kDeleted),
               Written("/c", "new", 5, ChangeEvent::Type::kAdded)});
  a = cache.Find("/a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->value, "three");
  EXPECT_EQ(a->revision, 3u);
  EXPECT_FALSE(cache.Find("/b").has_value());
  EXPECT_FALSE(cache.Find("/c").has_value()) << "a write alone does not fill the cache";
}

// The race the epoch closes: a reader reads the old value from the store, a batch replacing it
// commits and is applied, then the reader fills. Its value must not be kept.
TEST(ReadCacheTest, AFillThatBeganBeforeABatchWasAppliedIsDropped) {
  ReadCache cache(1 << 20);
  uint64_t began = cache.Epoch();
  cache.Apply({Written("/a", "new", 2)});
  cache.Fill("/a", "old", 1, began);
  EXPECT_FALSE(cache.Find("/a").has_value());
  cache.Fill("/a", "new", 2, cache.Epoch());
  ASSERT_TRUE(cache.Find("/a").has_value());
  EXPECT_EQ(cache.Find("/a")->value, "new");
}

TEST(ReadCacheTest, StaysWithinItsBytesDroppingTheLeastRecentlyUsed) {
  ReadCache cache(64 * 1024);
  std::string value(1000, 'x');
  for (int i = 0; i < 1000; ++i) cache.Fill("/k/" + std::to_string(i), value, i + 1, cache.Epoch());
  EXPECT_LE(cache.size_bytes(), cache.capacity_bytes());
  EXPECT_GT(cache.size_bytes(), cache.capacity_bytes() / 2);
  EXPECT_FALSE(cache.Find("/k/0").has_value());
  EXPECT_TRUE(cache.Find("/k/999").has_value());
  // An object larger than a shard's share is not cached at all.
  cache.Fill("/big", std::string(64 * 1024, 'y'), 2000, cache.Epoch());
  EXPECT_FALSE(cache.Find("/big").has_value());
  EXPECT_LE(cache.size_bytes(), cache.capacity_bytes());

  ReadCache off(0);
  off.Fill("/a", "one", 1, off.Epoch());
  EXPECT_FALSE(off.Find("/a").has_value());
}

}  // namespace
}  // namespace berth::apiserver::storage
