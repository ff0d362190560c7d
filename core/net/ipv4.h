#pragma once
// File: core/net/ipv4.h
// IPv4 addresses and prefixes as Kubernetes' networking fields carry them (podCIDR,
// clusterIP, --cluster-cidr): parsing that refuses what Go's net.ParseIP/ParseCIDR refuse, and
// the arithmetic allocators and IPAM need. Addresses are host-order integers.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace berth::net {

// "10.244.1.5": four decimal octets, no leading zeros (Go refuses "010.0.0.1" since 1.17).
absl::StatusOr<uint32_t> ParseIpv4(std::string_view text);
std::string FormatIpv4(uint32_t address);

struct Ipv4Prefix {
  uint32_t network = 0;  // host bits zero
  int length = 0;        // 0..32

  uint32_t mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  uint64_t size() const { return uint64_t{1} << (32 - length); }
  uint32_t broadcast() const { return network | ~mask(); }
  bool Contains(uint32_t address) const { return (address & mask()) == network; }
  bool Contains(const Ipv4Prefix& other) const { return other.length >= length && Contains(other.network); }
  bool Overlaps(const Ipv4Prefix& other) const { return Contains(other.network) || other.Contains(network); }
  std::string ToString() const;
  bool operator==(const Ipv4Prefix&) const = default;
  auto operator<=>(const Ipv4Prefix&) const = default;
};

// "10.244.0.0/16". Host bits set ("10.244.0.1/16") are refused unless `allow_host_bits`
// (then they are cleared), since a podCIDR or a service range names a network.
absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(std::string_view text, bool allow_host_bits = false);

}  // namespace berth::net
