// File: controllers/builtin/nodeipam/cidr_allocator.cc
#include "controllers/builtin/nodeipam/cidr_allocator.h"

#include "absl/strings/str_cat.h"

namespace berth::controllers::builtin {

absl::StatusOr<CidrAllocator> CidrAllocator::Create(net::Ipv4Prefix cluster, int node_mask) {
  if (node_mask <= cluster.length || node_mask > 30 || node_mask - cluster.length > 24) {
    return absl::InvalidArgumentError(absl::StrCat("--node-cidr-mask-size ", node_mask, " does not fit --cluster-cidr ",
                                                   cluster.ToString(), " (it must be longer, at most 30, and at most 24 bits more)"));
  }
  return CidrAllocator(cluster, node_mask);
}

net::Ipv4Prefix CidrAllocator::Nth(uint64_t i) const {
  return net::Ipv4Prefix{cluster_.network + static_cast<uint32_t>(i << (32 - node_mask_)), node_mask_};
}

bool CidrAllocator::Occupy(const net::Ipv4Prefix& subnet) {
  if (subnet.length != node_mask_ || !cluster_.Contains(subnet)) return false;
  taken_.insert((subnet.network - cluster_.network) >> (32 - node_mask_));
  return true;
}

void CidrAllocator::Release(const net::Ipv4Prefix& subnet) {
  if (subnet.length != node_mask_ || !cluster_.Contains(subnet)) return;
  taken_.erase((subnet.network - cluster_.network) >> (32 - node_mask_));
}

absl::StatusOr<net::Ipv4Prefix> CidrAllocator::Allocate() {
  const uint64_t n = capacity();
  for (uint64_t k = 0; k < n; ++k) {
    uint64_t i = (next_ + k) % n;
    if (taken_.count(i)) continue;
    taken_.insert(i);
    next_ = (i + 1) % n;
    return Nth(i);
  }
  return absl::ResourceExhaustedError(absl::StrCat("no free /", node_mask_, " left in the cluster CIDR ", cluster_.ToString()));
}

}  // namespace berth::controllers::builtin
