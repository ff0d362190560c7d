#pragma once
// File: kubelet-like-agent/network/dns/dns_server.h
// The node's cluster DNS responder: UDP and TCP on the cluster DNS address (port 53), answering
// from the latest ClusterZone, and relaying recursive queries for names outside the zone to the
// node's nameservers (upstream_forwarder.h). Its sockets are made by the caller (in the node's
// network namespace). One thread answers UDP, so a query costs no thread hand-off; TCP
// connections (rare: after a truncated answer) are served by a second one.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "kubelet-like-agent/network/dns/cluster_zone.h"
#include "kubelet-like-agent/network/dns/upstream_forwarder.h"

namespace berth::agent::network::dns {

class DnsServer {
 public:
  using SocketMaker = std::function<absl::StatusOr<int>(int domain, int type)>;
  struct Upstreams {
    std::vector<uint32_t> nameservers;  // none: names outside the zone are REFUSED
    uint16_t port = 53;
  };
  static absl::StatusOr<std::unique_ptr<DnsServer>> Start(const SocketMaker& make_socket, uint32_t address, uint16_t port,
                                                          const Upstreams& upstreams, const Clock& clock);
  ~DnsServer();
  void SetZone(std::shared_ptr<const ClusterZone> zone);
  uint64_t queries() const { return queries_.load(); }
  uint16_t port() const { return port_; }  // the one asked for, or the kernel's for 0

  // What goes to the node's nameservers instead of an answer from the zone.
  struct Relay {
    std::string query;                  // the client's own, or one for an ExternalName's target
    UpstreamForwarder::Finish finish;   // empty: the nameserver's answer is the reply
  };
  // The wire answer to one query packet (exposed for tests). With `relay`, a recursive query
  // for a name outside the zone, or for an ExternalName whose target is outside it, gets no
  // answer and fills *relay.
  static std::string Respond(const ClusterZone* zone, const std::string& packet, bool tcp, std::optional<Relay>* relay = nullptr);

 private:
  DnsServer() = default;
  void Loop();
  void TcpLoop();
  void ServeTcp(int connection);

  static constexpr size_t kMaxTcpWaiting = 64;

  int udp_ = -1, tcp_ = -1, wake_ = -1;
  std::mutex mu_;
  std::shared_ptr<const ClusterZone> zone_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> queries_{0};
  std::unique_ptr<UpstreamForwarder> forwarder_;  // UDP relaying by the loop thread only; TCP's by the TCP thread
  uint16_t port_ = 0;
  std::thread tcp_thread_;
  std::mutex tcp_mu_;
  std::condition_variable tcp_cv_;
  std::deque<int> tcp_waiting_;  // accepted connections
  std::thread thread_;
};

}  // namespace berth::agent::network::dns
