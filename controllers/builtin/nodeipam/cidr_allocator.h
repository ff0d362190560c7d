#pragma once
// File: controllers/builtin/nodeipam/cidr_allocator.h
// Node pod CIDRs carved from the cluster CIDR (kube-controller-manager's range allocator:
// --cluster-cidr, --node-cidr-mask-size), pure: which subnets are taken is told to it, so the
// controller can rebuild it from the Nodes at any time.

#include <optional>
#include <set>

#include "absl/status/statusor.h"
#include "core/net/ipv4.h"

namespace berth::controllers::builtin {

class CidrAllocator {
 public:
  // kInvalidArgument when `node_mask` is not longer than the cluster prefix (or > 30).
  static absl::StatusOr<CidrAllocator> Create(net::Ipv4Prefix cluster, int node_mask);

  // Marks a subnet taken; false when it is not one of ours (outside, or of another size).
  bool Occupy(const net::Ipv4Prefix& subnet);
  void Release(const net::Ipv4Prefix& subnet);
  // The next free subnet after the last handed out (round-robin, so a freed subnet is not reused
  // at once); kResourceExhausted when all are taken.
  absl::StatusOr<net::Ipv4Prefix> Allocate();
  uint64_t capacity() const { return uint64_t{1} << (node_mask_ - cluster_.length); }
  size_t used() const { return taken_.size(); }

 private:
  CidrAllocator(net::Ipv4Prefix cluster, int node_mask) : cluster_(cluster), node_mask_(node_mask) {}
  net::Ipv4Prefix Nth(uint64_t i) const;

  net::Ipv4Prefix cluster_;
  int node_mask_;
  std::set<uint64_t> taken_;  // subnet indexes
  uint64_t next_ = 0;
};

}  // namespace berth::controllers::builtin
