#include "apiserver/storage/read_cache.h"

#include <functional>

namespace berth::apiserver::storage {

ReadCache::ReadCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

ReadCache::Shard& ReadCache::ShardOf(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

std::optional<ReadCache::Hit> ReadCache::Find(std::string_view key) {
  if (capacity_ == 0) return std::nullopt;
  Shard& s = ShardOf(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) return std::nullopt;
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  return Hit{it->second->value, it->second->revision};
}

void ReadCache::Fill(std::string_view key, std::string_view value, uint64_t revision, uint64_t epoch) {
  Shard& s = ShardOf(key);
  std::lock_guard<std::mutex> lock(s.mu);
  // Read under the shard's lock: Apply bumps the epoch before it takes any shard's lock, so a
  // fill that still sees the old epoch here is ordered before Apply's update of this shard.
  if (epoch_.load() != epoch) return;
  Entry e{std::string(key), std::string(value), revision};
  if (Cost(e) > capacity_ / kShards) return;
  if (auto it = s.index.find(key); it != s.index.end()) {
    s.bytes -= Cost(*it->second);
    s.lru.erase(it->second);
    s.index.erase(it);
  }
  s.bytes += Cost(e);
  s.lru.push_front(std::move(e));
  s.index.emplace(s.lru.front().key, s.lru.begin());
  Evict(s);
}

void ReadCache::Apply(const std::vector<ChangeEvent>& events) {
  epoch_.fetch_add(1);
  for (const ChangeEvent& e : events) {
    Shard& s = ShardOf(e.key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.index.find(e.key);
    if (it == s.index.end()) continue;
    Entry& entry = *it->second;
    s.bytes -= Cost(entry);
    if (e.type == ChangeEvent::Type::kDeleted) {
      s.lru.erase(it->second);
      s.index.erase(it);
      continue;
    }
    entry.value = e.value;
    entry.revision = e.revision;
    s.bytes += Cost(entry);
    Evict(s);
  }
}

void ReadCache::Evict(Shard& s) {
  while (s.bytes > capacity_ / kShards && !s.lru.empty()) {
    s.bytes -= Cost(s.lru.back());
    s.index.erase(s.lru.back().key);
    s.lru.pop_back();
  }
}

size_t ReadCache::size_bytes() const {
  size_t total = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    total += s.bytes;
  }
  return total;
}

}  // namespace berth::apiserver::storage
