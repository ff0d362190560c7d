#include "apiserver/storage/prefix_mirror.h"

#include <utility>

namespace berth::apiserver::storage {

PrefixMirror::PrefixMirror(std::vector<std::string> prefixes) {
  for (std::string& p : prefixes) ranges_.push_back({std::move(p), 0});
}

PrefixMirror::~PrefixMirror() { subscription_.reset(); }

absl::StatusOr<std::unique_ptr<PrefixMirror>> PrefixMirror::Start(Store& store, std::vector<std::string> prefixes) {
  std::unique_ptr<PrefixMirror> m(new PrefixMirror(std::move(prefixes)));
  PrefixMirror* self = m.get();
  // Subscribed before listing, so no event falls between a list and the feed; events the
  // lists already hold are told apart by revision.
  m->subscription_ = store.Subscribe([self](const ChangeEvent& e) {
    if (self->RangeOf(e.key) == nullptr) return;
    absl::MutexLock lock(&self->mu_);
    if (self->ready_) {
      self->Apply(e);
    } else {
      self->early_.push_back(e);
    }
  });
  std::map<std::string, std::string, std::less<>> listed;
  for (Range& range : m->ranges_) {
    absl::StatusOr<ListResult> result = store.List(range.prefix, {});
    if (!result.ok()) return result.status();
    range.listed_at = result->revision;
    for (KeyValue& kv : result->items) listed.emplace(std::move(kv.key), std::move(kv.value));
  }
  absl::MutexLock lock(&m->mu_);
  m->objects_ = std::move(listed);
  for (const ChangeEvent& e : m->early_) m->Apply(e);
  m->early_.clear();
  m->ready_ = true;
  return m;
}

const PrefixMirror::Range* PrefixMirror::RangeOf(std::string_view key) const {
  for (const Range& r : ranges_) {
    if (key.substr(0, r.prefix.size()) == r.prefix) return &r;
  }
  return nullptr;
}

void PrefixMirror::Apply(const ChangeEvent& e) {
  const Range* range = RangeOf(e.key);
  // At or below the list's revision, the list already holds the event's outcome (and a later
  // one may have followed it).
  if (range == nullptr || e.revision <= range->listed_at) return;
  if (e.type == ChangeEvent::Type::kDeleted) {
    objects_.erase(e.key);
  } else {
    objects_.insert_or_assign(e.key, e.value);
  }
}

std::optional<std::string> PrefixMirror::Get(std::string_view key) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::vector<std::string>> PrefixMirror::List(std::string_view prefix) const {
  if (RangeOf(prefix) == nullptr) return std::nullopt;
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> out;
  for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(it->second);
  }
  return out;
}

std::optional<bool> PrefixMirror::HasAny(std::string_view prefix) const {
  if (RangeOf(prefix) == nullptr) return std::nullopt;
  absl::ReaderMutexLock lock(&mu_);
  auto it = objects_.lower_bound(prefix);
  return it != objects_.end() && it->first.starts_with(prefix);
}

}  // namespace berth::apiserver::storage
