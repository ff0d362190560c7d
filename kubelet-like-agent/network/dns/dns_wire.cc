// File: kubelet-like-agent/network/dns/dns_wire.cc
#include "kubelet-like-agent/network/dns/dns_wire.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace berth::agent::network::dns {
namespace {

void Put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}
void Put32(std::string& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xffff));
}
uint16_t Get16(const std::string& p, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[at]) << 8 | static_cast<uint8_t>(p[at + 1]));
}

std::string Header(uint16_t id, bool rd, Rcode rcode, bool tc, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
  std::string h;
  Put16(h, id);
  // QR=1, opcode 0, AA=1, TC, RD echoed; RA=0 (no recursion offered).
  uint16_t flags = 0x8000 | 0x0400 | (tc ? 0x0200 : 0) | (rd ? 0x0100 : 0) | rcode;
  Put16(h, flags);
  Put16(h, qd);
  Put16(h, an);
  Put16(h, ns);
  Put16(h, ar);
  return h;
}

void PutRecord(std::string& out, const Record& r) {
  out += EncodeName(r.name);
  Put16(out, r.type);
  Put16(out, 1);  // IN
  Put32(out, r.ttl);
  Put16(out, static_cast<uint16_t>(r.rdata.size()));
  out += r.rdata;
}

// A name at `at`, following compression pointers (RFC 1035 4.1.4); `at` moves past it as it
// stands in the packet.
absl::StatusOr<std::string> ReadName(const std::string& p, size_t& at) {
  std::string name;
  size_t pos = at;
  bool jumped = false;
  for (int steps = 0; steps < 128; ++steps) {
    if (pos >= p.size()) return absl::InvalidArgumentError("name past the end");
    uint8_t len = static_cast<uint8_t>(p[pos]);
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= p.size()) return absl::InvalidArgumentError("pointer past the end");
      if (!jumped) at = pos + 2;
      jumped = true;
      pos = static_cast<size_t>(len & 0x3f) << 8 | static_cast<uint8_t>(p[pos + 1]);
      continue;
    }
    if (len > 63) return absl::InvalidArgumentError("bad label");
    ++pos;
    if (len == 0) {
      if (!jumped) at = pos;
      if (name.size() > 253) return absl::InvalidArgumentError("name too long");
      return name;
    }
    if (pos + len > p.size()) return absl::InvalidArgumentError("label past the end");
    if (!name.empty()) name += '.';
    name.append(p, pos, len);
    pos += len;
  }
  return absl::InvalidArgumentError("pointer loop");
}

}  // namespace

uint16_t PacketId(const std::string& packet) { return Get16(packet, 0); }

void SetPacketId(std::string& packet, uint16_t id) {
  packet[0] = static_cast<char>(id >> 8);
  packet[1] = static_cast<char>(id & 0xff);
}

std::string TcpFramed(const std::string& message) {
  std::string out;
  Put16(out, static_cast<uint16_t>(message.size()));
  return out + message;
}

std::string EncodeName(const std::string& name) {
  std::string out;
  if (!name.empty()) {
    for (const std::string& label : std::vector<std::string>(absl::StrSplit(name, '.'))) {
      out.push_back(static_cast<char>(std::min<size_t>(label.size(), 63)));
      out += label.substr(0, 63);
    }
  }
  out.push_back('\0');
  return out;
}

absl::StatusOr<Query> ParseQuery(const std::string& p, uint16_t* id) {
  if (p.size() < 12) return absl::InvalidArgumentError("short header");
  Query q;
  q.id = Get16(p, 0);
  if (id) *id = q.id;
  uint16_t flags = Get16(p, 2);
  if (flags & 0x8000) return absl::InvalidArgumentError("a response, not a query");
  if (((flags >> 11) & 0xf) != 0) return absl::UnimplementedError("only standard queries");
  q.recursion_desired = flags & 0x0100;
  if (Get16(p, 4) != 1) return absl::InvalidArgumentError("exactly one question");
  size_t at = 12;
  std::string name;
  for (int labels = 0;; ++labels) {
    if (at >= p.size() || labels > 127) return absl::InvalidArgumentError("bad name");
    uint8_t len = static_cast<uint8_t>(p[at++]);
    if (len == 0) break;
    if (len > 63 || at + len > p.size()) return absl::InvalidArgumentError("bad label");  // no compression in questions
    if (!name.empty()) name += '.';
    name.append(p, at, len);
    at += len;
  }
  if (name.size() > 253 || at + 4 > p.size()) return absl::InvalidArgumentError("bad question");
  q.raw_name = name;
  q.name = absl::AsciiStrToLower(name);
  q.type = Get16(p, at);
  q.klass = Get16(p, at + 2);
  at += 4;
  // An OPT record in the additional section: the client's UDP size (EDNS0).
  uint16_t additional = Get16(p, 10);
  if (additional > 0 && at + 11 <= p.size() && p[at] == '\0' && Get16(p, at + 1) == kOpt) {
    q.edns = true;
    q.udp_size = std::max<size_t>(512, std::min<size_t>(Get16(p, at + 3), 4096));
  }
  return q;
}

Record ARecord(const std::string& name, uint32_t ip, uint32_t ttl) {
  std::string rdata;
  Put32(rdata, ip);
  return {name, kA, ttl, rdata};
}

Record SrvRecord(const std::string& name, uint16_t priority, uint16_t weight, uint16_t port, const std::string& target, uint32_t ttl) {
  std::string rdata;
  Put16(rdata, priority);
  Put16(rdata, weight);
  Put16(rdata, port);
  rdata += EncodeName(target);
  return {name, kSrv, ttl, rdata};
}

Record PtrRecord(const std::string& name, const std::string& target, uint32_t ttl) { return {name, kPtr, ttl, EncodeName(target)}; }

Record TxtRecord(const std::string& name, const std::string& text, uint32_t ttl) {
  std::string rdata(1, static_cast<char>(std::min<size_t>(text.size(), 255)));
  rdata += text.substr(0, 255);
  return {name, kTxt, ttl, rdata};
}

Record SoaRecord(const std::string& zone, uint32_t ttl) {
  std::string rdata = EncodeName("ns.dns." + zone) + EncodeName("hostmaster." + zone);
  for (uint32_t v : {uint32_t{1}, uint32_t{7200}, uint32_t{1800}, uint32_t{86400}, ttl}) Put32(rdata, v);
  return {zone, kSoa, ttl, rdata};
}

Record CnameRecord(const std::string& name, const std::string& target, uint32_t ttl) {
  return {name, kCname, ttl, EncodeName(target)};
}

std::string QueryPacket(uint16_t id, const std::string& name, uint16_t type) {
  std::string p;
  Put16(p, id);
  Put16(p, 0x0100);  // RD
  Put16(p, 1);
  Put16(p, 0);
  Put16(p, 0);
  Put16(p, 0);
  p += EncodeName(name);
  Put16(p, type);
  Put16(p, 1);
  return p;
}

absl::StatusOr<std::vector<Record>> AnswerRecords(const std::string& p, Rcode* rcode) {
  if (p.size() < 12) return absl::InvalidArgumentError("short header");
  *rcode = static_cast<Rcode>(Get16(p, 2) & 0xf);
  const uint16_t questions = Get16(p, 4), answers = Get16(p, 6);
  size_t at = 12;
  for (uint16_t i = 0; i < questions; ++i) {
    auto name = ReadName(p, at);
    if (!name.ok()) return name.status();
    at += 4;
  }
  std::vector<Record> out;
  for (uint16_t i = 0; i < answers; ++i) {
    auto name = ReadName(p, at);
    if (!name.ok()) return name.status();
    if (at + 10 > p.size()) return absl::InvalidArgumentError("record past the end");
    Record r{*name, Get16(p, at), static_cast<uint32_t>(Get16(p, at + 4)) << 16 | Get16(p, at + 6), ""};
    const size_t length = Get16(p, at + 8);
    at += 10;
    if (at + length > p.size()) return absl::InvalidArgumentError("data past the end");
    if (r.type == kCname || r.type == kPtr) {
      size_t in = at;
      auto target = ReadName(p, in);
      if (!target.ok()) return target.status();
      r.rdata = EncodeName(*target);
      out.push_back(std::move(r));
    } else if (r.type == kA || r.type == kAaaa || r.type == kTxt) {
      r.rdata = p.substr(at, length);
      out.push_back(std::move(r));
    }
    at += length;
  }
  return out;
}

std::string BuildResponse(const Query& q, Rcode rcode, const std::vector<Record>& answers,
                          const std::vector<Record>& authority, size_t max_size) {
  std::string question = EncodeName(q.raw_name);
  Put16(question, q.type);
  Put16(question, q.klass);
  std::string body;
  for (const Record& r : answers) PutRecord(body, r);
  std::string auth;
  for (const Record& r : authority) PutRecord(auth, r);
  std::string opt;
  if (q.edns) {
    opt.push_back('\0');
    Put16(opt, kOpt);
    Put16(opt, 4096);
    Put32(opt, 0);
    Put16(opt, 0);
  }
  std::string out = Header(q.id, q.recursion_desired, rcode, false, 1, static_cast<uint16_t>(answers.size()),
                           static_cast<uint16_t>(authority.size()), q.edns ? 1 : 0) +
                    question + body + auth + opt;
  if (out.size() <= max_size) return out;
  return Header(q.id, q.recursion_desired, rcode, true, 1, 0, 0, 0) + question;
}

std::string ErrorResponse(uint16_t id, Rcode rcode) { return Header(id, false, rcode, false, 0, 0, 0, 0); }

}  // namespace berth::agent::network::dns
