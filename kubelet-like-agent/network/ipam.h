#pragma once
// File: kubelet-like-agent/network/ipam.h
// Pod IPs from the node's podCIDR, kept on disk in the CNI host-local plugin's layout: one file
// per address (named by it, holding the owner), `last_reserved_ip.0` for round-robin, and an
// flock'd `lock`. So an agent restart keeps every pod's address (an owner that asks again gets
// its own back), and a freed address is not handed out again until the range wraps.

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/net/ipv4.h"

namespace berth::agent::network {

class HostLocalIpam {
 public:
  // `range`: the node's podCIDR. The network address, the gateway (first host) and the
  // broadcast address are never handed out.
  HostLocalIpam(std::string dir, net::Ipv4Prefix range) : dir_(std::move(dir)), range_(range) {}

  // The address `owner` holds, or the next free one after the last reserved. kResourceExhausted
  // when the range is full.
  absl::StatusOr<uint32_t> Allocate(const std::string& owner);
  // Frees what `owner` holds (nothing held: OK).
  absl::Status Release(const std::string& owner);
  // address -> owner, for everything on disk (including addresses outside the current range,
  // left from an earlier podCIDR).
  std::map<uint32_t, std::string> Allocations() const;
  std::optional<uint32_t> Find(const std::string& owner) const;
  uint32_t gateway() const { return range_.network + 1; }
  const net::Ipv4Prefix& range() const { return range_; }

 private:
  std::string dir_;
  net::Ipv4Prefix range_;
};

}  // namespace berth::agent::network
