#pragma once
// File: kubelet-like-agent/network/dns/upstream_forwarder.h
// What the cluster DNS does with a name outside its zone, as CoreDNS's `forward . /etc/resolv.conf`
// does: it relays the query to the node's nameservers and the answer back, so a pod with the
// default dnsPolicy (ClusterFirst, whose resolv.conf names only the cluster DNS) resolves any
// name the node does. UDP queries are relayed from one socket of the node's namespace with a
// fresh random id, answered from the nameserver they went to or not at all; one that gets no
// answer in 2 s goes to the next nameserver, and after the last one the client gets SERVFAIL.
// TCP queries (what a client sends after a truncated answer) are relayed over TCP.

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/time/clock.h"

namespace berth::agent::network::dns {

// The IPv4 `nameserver` lines of a resolv.conf, in order, less `exclude` (the cluster DNS
// address itself: relaying to it would loop).
std::vector<uint32_t> NameserversOf(const std::string& resolv_conf, uint32_t exclude);

class UpstreamForwarder {
 public:
  using SocketMaker = std::function<absl::StatusOr<int>(int domain, int type)>;
  // Sends a reply to the client that asked, on the server's own socket.
  using ReplyTo = std::function<void(const std::string& reply, const sockaddr_storage& client, socklen_t client_len)>;
  static constexpr std::chrono::milliseconds kTimeout{2000};
  static constexpr size_t kMaxPending = 4096;

  static absl::StatusOr<std::unique_ptr<UpstreamForwarder>> Start(const SocketMaker& make_socket, std::vector<uint32_t> nameservers,
                                                                   uint16_t port, const Clock& clock);
  ~UpstreamForwarder();

  // The socket answers arrive on: poll it and call OnReadable.
  int fd() const { return udp_; }
  // Makes the client's reply of a nameserver's answer (which carries the client's id).
  using Finish = std::function<std::string(const std::string& answer)>;
  // Relays one UDP query (its id, the client's, is at the packet's start); a query that cannot
  // be relayed is answered SERVFAIL at once. Without `finish` the answer goes back as it came.
  void Forward(const std::string& query, const sockaddr_storage& client, socklen_t client_len, const ReplyTo& reply,
               Finish finish = nullptr);
  // Relays the answers that arrived.
  void OnReadable(const ReplyTo& reply);
  // Sends queries whose nameserver did not answer in time to the next one, or SERVFAIL; returns
  // the poll timeout until the next deadline (-1: nothing pending).
  int Expire(const ReplyTo& reply);
  // Relays a TCP query and returns the answer ("" when no nameserver answered). It may run on
  // another thread than the UDP calls above: it reads only what never changes.
  std::string ForwardTcp(const std::string& query) const;

  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    std::string query;  // with the client's id
    Finish finish;
    sockaddr_storage client{};
    socklen_t client_len = 0;
    size_t nameserver = 0;  // index of the one asked
    std::chrono::steady_clock::time_point deadline;
  };
  UpstreamForwarder(const SocketMaker& make_socket, std::vector<uint32_t> nameservers, uint16_t port, const Clock& clock)
      : make_socket_(make_socket), nameservers_(std::move(nameservers)), port_(port), clock_(clock) {}
  uint16_t FreshId();
  bool Send(uint16_t id, Pending& p);

  SocketMaker make_socket_;
  std::vector<uint32_t> nameservers_;
  uint16_t port_;
  const Clock& clock_;
  int udp_ = -1;
  uint64_t random_state_ = 0;
  std::map<uint16_t, Pending> pending_;  // by the id sent upstream
  // No pending deadline is earlier (one may be later, once its query was answered): Expire
  // scans pending_ only when this has passed, not on every packet.
  std::chrono::steady_clock::time_point next_deadline_;
};

}  // namespace berth::agent::network::dns
