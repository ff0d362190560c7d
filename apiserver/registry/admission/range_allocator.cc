// File: apiserver/registry/admission/range_allocator.cc
#include "apiserver/registry/admission/range_allocator.h"

namespace berth::apiserver::registry {

std::optional<uint64_t> RangeAllocator::Next(const std::set<uint64_t>& taken) {
  // The dynamic band [band_end_, last_] from the cursor, wrapping; then the static band.
  if (band_end_ <= last_) {
    const uint64_t n = last_ - band_end_ + 1;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t v = band_end_ + (cursor_ - band_end_ + i) % n;
      if (taken.count(v)) continue;
      cursor_ = v + 1 > last_ ? band_end_ : v + 1;
      return v;
    }
  }
  for (uint64_t v = first_; v < band_end_ && v <= last_; ++v) {
    if (!taken.count(v)) return v;
  }
  return std::nullopt;
}

}  // namespace berth::apiserver::registry
