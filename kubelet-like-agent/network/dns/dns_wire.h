#pragma once
// File: kubelet-like-agent/network/dns/dns_wire.h
// The DNS wire format (RFC 1035) as far as an authoritative responder needs it: one question in,
// answers and authority records out, truncated with TC when a UDP answer would not fit (512
// bytes, or the client's EDNS0 size). Names are compared lower-case without the trailing dot.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent::network::dns {

enum Type : uint16_t { kA = 1, kNs = 2, kCname = 5, kSoa = 6, kPtr = 12, kTxt = 16, kAaaa = 28, kSrv = 33, kOpt = 41, kAny = 255 };
enum Rcode : uint8_t { kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5 };

struct Query {
  uint16_t id = 0;
  bool recursion_desired = false;
  std::string name;   // lower-case, no trailing dot
  std::string raw_name;  // as asked (case kept), echoed in the question
  uint16_t type = 0, klass = 1;
  size_t udp_size = 512;  // the client's EDNS0 payload size, or 512
  bool edns = false;
};

struct Record {
  std::string name;  // no trailing dot
  uint16_t type = kA;
  uint32_t ttl = 5;
  std::string rdata;  // wire form
};

// kInvalidArgument for anything that is not one well-formed query (the caller answers FORMERR
// when the header could be read: `id` is then set).
absl::StatusOr<Query> ParseQuery(const std::string& packet, uint16_t* id);

// The id a message starts with (the caller has checked it holds a header), and setting it.
uint16_t PacketId(const std::string& packet);
void SetPacketId(std::string& packet, uint16_t id);
// A message as TCP carries it: its two-byte length first (RFC 1035 4.2.2).
std::string TcpFramed(const std::string& message);

std::string EncodeName(const std::string& name);
Record ARecord(const std::string& name, uint32_t ipv4, uint32_t ttl);
Record SrvRecord(const std::string& name, uint16_t priority, uint16_t weight, uint16_t port, const std::string& target, uint32_t ttl);
Record PtrRecord(const std::string& name, const std::string& target, uint32_t ttl);
Record TxtRecord(const std::string& name, const std::string& text, uint32_t ttl);
Record SoaRecord(const std::string& zone, uint32_t ttl);
Record CnameRecord(const std::string& name, const std::string& target, uint32_t ttl);

// A recursive query for `name` (what the cluster DNS asks a nameserver for an ExternalName's target).
std::string QueryPacket(uint16_t id, const std::string& name, uint16_t type);
// The answer section of a response, names uncompressed, and its rcode. Records whose data holds
// names other than CNAME and PTR (MX, SRV, SOA, ...) are left out: they are not asked for here.
absl::StatusOr<std::vector<Record>> AnswerRecords(const std::string& response, Rcode* rcode);

// The answer to `q`. Over `max_size` (UDP), the answer sections are dropped and TC set, so the
// client retries over TCP.
std::string BuildResponse(const Query& q, Rcode rcode, const std::vector<Record>& answers,
                          const std::vector<Record>& authority, size_t max_size);
// FORMERR/SERVFAIL/NOTIMP for a query that could not be parsed or answered.
std::string ErrorResponse(uint16_t id, Rcode rcode);

}  // namespace berth::agent::network::dns
