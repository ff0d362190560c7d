#pragma once
// File: apiserver/registry/admission/range_allocator.h
// A range of integers (IPv4 addresses as host-order numbers, or ports) some of which are taken:
// what the Service IP and NodePort allocators decide over. Pure; the caller says what is taken.
// Dynamic allocations come from the upper part of the range first, leaving the lower band for
// addresses users pick themselves (Kubernetes' KEP-3070), round-robin within it so a freed
// value is not handed out again at once.

#include <cstdint>
#include <optional>
#include <set>

namespace berth::apiserver::registry {

class RangeAllocator {
 public:
  // [first, last], with [first, first + static_band) preferred for static assignment.
  RangeAllocator(uint64_t first, uint64_t last, uint64_t static_band)
      : first_(first), last_(last), band_end_(first + static_band), cursor_(first + static_band) {}
  bool Contains(uint64_t v) const { return v >= first_ && v <= last_; }
  // The next free value, or nullopt when all are taken.
  std::optional<uint64_t> Next(const std::set<uint64_t>& taken);

 private:
  uint64_t first_, last_, band_end_, cursor_;
};

}  // namespace berth::apiserver::registry
