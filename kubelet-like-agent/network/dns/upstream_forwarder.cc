// File: kubelet-like-agent/network/dns/upstream_forwarder.cc
#include "kubelet-like-agent/network/dns/upstream_forwarder.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/net/ipv4.h"
#include "kubelet-like-agent/network/dns/dns_wire.h"

namespace berth::agent::network::dns {
namespace {

sockaddr_in Address(uint32_t ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(ip);
  return sa;
}

// Waits for `events` on `fd` up to `ms`; false on timeout or error.
bool WaitFor(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  int n;
  do {
    n = poll(&p, 1, ms);
  } while (n < 0 && errno == EINTR);
  return n > 0 && (p.revents & events);
}

bool SendAll(int fd, const std::string& data, int ms) {
  size_t sent = 0;
  while (sent < data.size()) {
    if (!WaitFor(fd, POLLOUT, ms)) return false;
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool ReadExactly(int fd, std::string& out, size_t len, int ms) {
  out.clear();
  char chunk[4096];
  while (out.size() < len) {
    if (!WaitFor(fd, POLLIN, ms)) return false;
    ssize_t n = read(fd, chunk, std::min(sizeof chunk, len - out.size()));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    out.append(chunk, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::vector<uint32_t> NameserversOf(const std::string& resolv_conf, uint32_t exclude) {
  std::vector<uint32_t> out;
  for (absl::string_view line : absl::StrSplit(resolv_conf, '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() < 2 || words[0] != "nameserver") continue;
    auto ip = net::ParseIpv4(std::string(words[1]));
    if (!ip.ok() || *ip == exclude || std::find(out.begin(), out.end(), *ip) != out.end()) continue;
    out.push_back(*ip);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<UpstreamForwarder>> UpstreamForwarder::Start(const SocketMaker& make_socket,
                                                                            std::vector<uint32_t> nameservers, uint16_t port,
                                                                            const Clock& clock) {
  std::unique_ptr<UpstreamForwarder> f(new UpstreamForwarder(make_socket, std::move(nameservers), port, clock));
  auto made = make_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK);
  if (!made.ok()) return made.status();
  f->udp_ = *made;
  // Ids must not be guessable: with the kernel's random source port, they are what keeps a
  // forged answer out.
  if (getrandom(&f->random_state_, sizeof f->random_state_, 0) != sizeof f->random_state_ || f->random_state_ == 0) {
    f->random_state_ = 0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(getpid());
  }
  return f;
}

UpstreamForwarder::~UpstreamForwarder() {
  if (udp_ >= 0) close(udp_);
}

uint16_t UpstreamForwarder::FreshId() {
  for (;;) {
    // xorshift64*: cheap, and seeded from getrandom.
    random_state_ ^= random_state_ >> 12;
    random_state_ ^= random_state_ << 25;
    random_state_ ^= random_state_ >> 27;
    uint16_t id = static_cast<uint16_t>((random_state_ * 0x2545F4914F6CDD1Dull) >> 48);
    if (!pending_.count(id)) return id;
  }
}

bool UpstreamForwarder::Send(uint16_t id, Pending& p) {
  std::string packet = p.query;
  SetPacketId(packet, id);
  sockaddr_in to = Address(nameservers_[p.nameserver], port_);
  p.deadline = clock_.MonotonicNow() + kTimeout;
  return sendto(udp_, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) ==
         static_cast<ssize_t>(packet.size());
}

void UpstreamForwarder::Forward(const std::string& query, const sockaddr_storage& client, socklen_t client_len,
                                const ReplyTo& reply, Finish finish) {
  if (query.size() < 12) return;
  Pending p{query, std::move(finish), client, client_len, 0, {}};
  if (!nameservers_.empty() && pending_.size() < kMaxPending) {
    while (p.nameserver < nameservers_.size()) {
      uint16_t id = FreshId();
      if (Send(id, p)) {
        if (pending_.empty() || p.deadline < next_deadline_) next_deadline_ = p.deadline;
        pending_.emplace(id, std::move(p));
        return;
      }
      ++p.nameserver;
    }
  }
  reply(ErrorResponse(PacketId(query), kServFail), client, client_len);
}

void UpstreamForwarder::OnReadable(const ReplyTo& reply) {
  char buffer[65536];
  for (int i = 0; i < 64; ++i) {
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(udp_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;
    if (n < 12) continue;
    std::string answer(buffer, static_cast<size_t>(n));
    auto it = pending_.find(PacketId(answer));
    if (it == pending_.end()) continue;
    const Pending& p = it->second;
    // Only the nameserver asked may answer.
    if (from.sin_family != AF_INET || ntohl(from.sin_addr.s_addr) != nameservers_[p.nameserver] || ntohs(from.sin_port) != port_) {
      continue;
    }
    SetPacketId(answer, PacketId(p.query));
    reply(p.finish ? p.finish(answer) : answer, p.client, p.client_len);
    pending_.erase(it);
  }
}

int UpstreamForwarder::Expire(const ReplyTo& reply) {
  if (pending_.empty()) return -1;
  const auto now = clock_.MonotonicNow();
  auto until = [&](std::chrono::steady_clock::time_point deadline) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    return static_cast<int>(std::clamp<int64_t>(ms + 1, 1, kTimeout.count() + 1));  // +1: past the deadline, not at it
  };
  if (now < next_deadline_) return until(next_deadline_);
  std::vector<uint16_t> gone;
  for (auto& [id, p] : pending_) {
    if (p.deadline > now) continue;
    bool resent = false;
    while (!resent && p.nameserver + 1 < nameservers_.size()) {
      ++p.nameserver;
      resent = Send(id, p);
    }
    if (!resent) {
      reply(ErrorResponse(PacketId(p.query), kServFail), p.client, p.client_len);
      gone.push_back(id);
    }
  }
  for (uint16_t id : gone) pending_.erase(id);
  if (pending_.empty()) return -1;
  next_deadline_ = std::min_element(pending_.begin(), pending_.end(),
                                    [](const auto& a, const auto& b) { return a.second.deadline < b.second.deadline; })
                       ->second.deadline;
  return until(next_deadline_);
}

std::string UpstreamForwarder::ForwardTcp(const std::string& query) const {
  if (query.size() < 12 || query.size() > 65535) return "";
  const std::string framed = TcpFramed(query);
  const int ms = static_cast<int>(kTimeout.count());
  for (uint32_t nameserver : nameservers_) {
    auto made = make_socket_(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    if (!made.ok()) return "";
    int fd = *made;
    sockaddr_in to = Address(nameserver, port_);
    std::string length, answer;
    bool ok = (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0 || errno == EINPROGRESS) &&
              WaitFor(fd, POLLOUT, ms);
    if (ok) {
      int error = 0;
      socklen_t len = sizeof error;
      ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
    }
    ok = ok && SendAll(fd, framed, ms) && ReadExactly(fd, length, 2, ms) &&
         ReadExactly(fd, answer, static_cast<uint8_t>(length[0]) << 8 | static_cast<uint8_t>(length[1]), ms);
    close(fd);
    if (ok && answer.size() >= 12 && PacketId(answer) == PacketId(query)) return answer;
  }
  return "";
}

}  // namespace berth::agent::network::dns
