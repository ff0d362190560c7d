// File: kubelet-like-agent/network/dns/dns_server.cc
#include "kubelet-like-agent/network/dns/dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/net/ipv4.h"

namespace berth::agent::network::dns {

std::string DnsServer::Respond(const ClusterZone* zone, const std::string& packet, bool tcp, std::optional<Relay>* relay) {
  uint16_t id = 0;
  auto q = ParseQuery(packet, &id);
  if (!q.ok()) {
    if (packet.size() < 12) return "";
    return ErrorResponse(id, q.status().code() == absl::StatusCode::kUnimplemented ? kNotImp : kFormErr);
  }
  if (zone == nullptr) return ErrorResponse(id, kServFail);
  // UDP answers fit 512 bytes, or the size the client announced with EDNS0; TCP any.
  const size_t max_size = tcp ? 65535 : q->udp_size;
  if (q->klass != 1 && q->klass != 255) return BuildResponse(*q, kRefused, {}, {}, max_size);
  Answer a = zone->Resolve(q->name, q->type);
  if (relay != nullptr && q->recursion_desired) {
    // REFUSED is the zone's answer for a name outside it.
    if (a.rcode == kRefused) {
      *relay = Relay{packet, nullptr};
      return "";
    }
    if (!a.follow.empty()) {
      // The CNAME chain from the zone, then what the nameservers hold for its end.
      *relay = Relay{QueryPacket(q->id, a.follow, q->type),
                     [q = *q, chain = a.answers, max_size](const std::string& answer) {
                       Rcode rcode = kServFail;
                       auto records = AnswerRecords(answer, &rcode);
                       std::vector<Record> all = chain;
                       if (records.ok()) all.insert(all.end(), records->begin(), records->end());
                       return BuildResponse(q, records.ok() ? rcode : kServFail, all, {}, max_size);
                     }};
      return "";
    }
  }
  return BuildResponse(*q, a.rcode, a.answers, a.authority, max_size);
}

absl::StatusOr<std::unique_ptr<DnsServer>> DnsServer::Start(const SocketMaker& make_socket, uint32_t address, uint16_t port,
                                                            const Upstreams& upstreams, const Clock& clock) {
  std::unique_ptr<DnsServer> s(new DnsServer());
  if (!upstreams.nameservers.empty()) {
    auto forwarder = UpstreamForwarder::Start(make_socket, upstreams.nameservers, upstreams.port, clock);
    if (!forwarder.ok()) return forwarder.status();
    s->forwarder_ = *std::move(forwarder);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(address);
  // TCP first: with port 0 (tests) UDP takes the port the kernel gave TCP.
  for (auto [fd, type] : {std::pair<int*, int>{&s->tcp_, SOCK_STREAM}, {&s->udp_, SOCK_DGRAM}}) {
    auto made = make_socket(AF_INET, type | SOCK_NONBLOCK);
    if (!made.ok()) return made.status();
    *fd = *made;
    int one = 1;
    setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (type == SOCK_DGRAM) sa.sin_port = htons(s->port_);
    if (bind(*fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      return absl::UnavailableError(absl::StrCat("cluster DNS: bind ", net::FormatIpv4(address), ":", port, ": ", std::strerror(errno)));
    }
    if (type == SOCK_STREAM) {
      sockaddr_in bound{};
      socklen_t len = sizeof bound;
      getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &len);
      s->port_ = ntohs(bound.sin_port);
    }
  }
  if (listen(s->tcp_, 64) != 0) return absl::UnavailableError(absl::StrCat("cluster DNS: listen: ", std::strerror(errno)));
  s->wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->wake_ < 0) return absl::InternalError("eventfd");
  DnsServer* raw = s.get();
  s->thread_ = std::thread([raw] { raw->Loop(); });
  s->tcp_thread_ = std::thread([raw] { raw->TcpLoop(); });
  return s;
}

DnsServer::~DnsServer() {
  stopping_ = true;
  if (wake_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
  }
  {
    std::lock_guard<std::mutex> lock(tcp_mu_);
    tcp_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (tcp_thread_.joinable()) tcp_thread_.join();
  for (int fd : tcp_waiting_) close(fd);
  for (int fd : {udp_, tcp_, wake_}) {
    if (fd >= 0) close(fd);
  }
}

void DnsServer::TcpLoop() {
  for (;;) {
    int c;
    {
      std::unique_lock<std::mutex> lock(tcp_mu_);
      tcp_cv_.wait(lock, [&] { return stopping_ || !tcp_waiting_.empty(); });
      if (stopping_) return;
      c = tcp_waiting_.front();
      tcp_waiting_.pop_front();
    }
    ServeTcp(c);
    close(c);
  }
}

void DnsServer::SetZone(std::shared_ptr<const ClusterZone> zone) {
  std::lock_guard<std::mutex> lock(mu_);
  zone_ = std::move(zone);
}

void DnsServer::ServeTcp(int c) {
  std::shared_ptr<const ClusterZone> zone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    zone = zone_;
  }
  // Length-prefixed messages until the client closes or is idle for a second.
  std::string buffer;
  char chunk[4096];
  for (;;) {
    pollfd p{c, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) break;
    ssize_t n = read(c, chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    while (buffer.size() >= 2) {
      size_t len = static_cast<uint8_t>(buffer[0]) << 8 | static_cast<uint8_t>(buffer[1]);
      if (buffer.size() < 2 + len) break;
      const std::string query = buffer.substr(2, len);
      buffer.erase(0, 2 + len);
      std::optional<Relay> relay;
      std::string reply = Respond(zone.get(), query, true, forwarder_ ? &relay : nullptr);
      if (relay) {
        reply = forwarder_->ForwardTcp(relay->query);
        if (reply.empty()) {
          reply = ErrorResponse(PacketId(query), kServFail);
        } else if (relay->finish) {
          reply = relay->finish(reply);
        }
      }
      ++queries_;
      if (reply.empty()) continue;
      const std::string framed = TcpFramed(reply);
      if (send(c, framed.data(), framed.size(), MSG_NOSIGNAL) < 0) return;
    }
  }
}

void DnsServer::Loop() {
  char packet[4096];
  const UpstreamForwarder::ReplyTo reply_to = [this](const std::string& reply, const sockaddr_storage& client, socklen_t len) {
    sendto(udp_, reply.data(), reply.size(), 0, reinterpret_cast<const sockaddr*>(&client), len);
  };
  while (!stopping_) {
    pollfd fds[4] = {{udp_, POLLIN, 0}, {tcp_, POLLIN, 0}, {wake_, POLLIN, 0}, {forwarder_ ? forwarder_->fd() : -1, POLLIN, 0}};
    const int timeout = forwarder_ ? forwarder_->Expire(reply_to) : -1;
    if (poll(fds, 4, timeout) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[2].revents) return;
    if (fds[3].revents & POLLIN) forwarder_->OnReadable(reply_to);
    if (fds[0].revents & POLLIN) {
      std::shared_ptr<const ClusterZone> zone;
      {
        std::lock_guard<std::mutex> lock(mu_);
        zone = zone_;
      }
      // Drain what is queued: under load one wake-up answers many queries.
      for (int i = 0; i < 64; ++i) {
        sockaddr_storage from{};
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(udp_, packet, sizeof packet, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n < 0) break;
        ++queries_;
        const std::string query(packet, static_cast<size_t>(n));
        std::optional<Relay> relay;
        std::string reply = Respond(zone.get(), query, false, forwarder_ ? &relay : nullptr);
        if (relay) {
          forwarder_->Forward(relay->query, from, from_len, reply_to, std::move(relay->finish));
        } else if (!reply.empty()) {
          sendto(udp_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
        }
      }
    }
    if (fds[1].revents & POLLIN) {
      // Served on a thread of their own: a slow TCP client or nameserver must not hold up the
      // UDP answers every pod of the node waits for.
      int c = accept4(tcp_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        std::lock_guard<std::mutex> lock(tcp_mu_);
        if (tcp_waiting_.size() >= kMaxTcpWaiting) {
          close(c);  // the client retries
        } else {
          tcp_waiting_.push_back(c);
          tcp_cv_.notify_one();
        }
      }
    }
  }
}

}  // namespace berth::agent::network::dns
