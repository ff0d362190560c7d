// File: core/net/ipv4.cc
#include "core/net/ipv4.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::net {

absl::StatusOr<uint32_t> ParseIpv4(std::string_view view) {
  const std::string text(view);
  auto invalid = [&] { return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a valid IPv4 address")); };
  std::vector<std::string> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return invalid();
  uint32_t address = 0;
  for (const std::string& p : parts) {
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return invalid();
    uint32_t octet = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return invalid();
      octet = octet * 10 + static_cast<uint32_t>(c - '0');
    }
    if (octet > 255) return invalid();
    address = address << 8 | octet;
  }
  return address;
}

std::string FormatIpv4(uint32_t a) {
  return absl::StrCat(a >> 24, ".", (a >> 16) & 255, ".", (a >> 8) & 255, ".", a & 255);
}

std::string Ipv4Prefix::ToString() const { return absl::StrCat(FormatIpv4(network), "/", length); }

absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(std::string_view view, bool allow_host_bits) {
  const std::string text(view);
  size_t slash = text.find('/');
  if (slash == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a valid CIDR (no prefix length)"));
  }
  auto address = ParseIpv4(text.substr(0, slash));
  if (!address.ok()) return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a valid IPv4 CIDR"));
  std::string len_text = text.substr(slash + 1);
  int length = 0;
  if (len_text.empty() || len_text.size() > 2 || (len_text.size() > 1 && len_text[0] == '0') ||
      !absl::SimpleAtoi(len_text, &length) || length < 0 || length > 32) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a valid CIDR (prefix length must be 0-32)"));
  }
  Ipv4Prefix prefix{*address, length};
  prefix.network = *address & prefix.mask();
  if (prefix.network != *address && !allow_host_bits) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" has host bits set: the network is ", prefix.ToString()));
  }
  return prefix;
}

}  // namespace berth::net
