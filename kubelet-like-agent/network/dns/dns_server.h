#pragma once
// File: kubelet-like-agent/network/dns/dns_server.h
// The node's cluster DNS responder: UDP and TCP on the cluster DNS address (port 53), answering
// from the latest ClusterZone. Its sockets are made by the caller (in the node's network
// namespace); one thread serves both, so a query costs no thread hand-off.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "kubelet-like-agent/network/dns/cluster_zone.h"

namespace berth::agent::network::dns {

class DnsServer {
 public:
  using SocketMaker = std::function<absl::StatusOr<int>(int domain, int type)>;
  static absl::StatusOr<std::unique_ptr<DnsServer>> Start(const SocketMaker& make_socket, uint32_t address, uint16_t port);
  ~DnsServer();
  void SetZone(std::shared_ptr<const ClusterZone> zone);
  uint64_t queries() const { return queries_.load(); }

  // The wire answer to one query packet (exposed for tests).
  static std::string Respond(const ClusterZone* zone, const std::string& packet, bool tcp);

 private:
  DnsServer() = default;
  void Loop();
  void ServeTcp(int connection);

  int udp_ = -1, tcp_ = -1, wake_ = -1;
  std::mutex mu_;
  std::shared_ptr<const ClusterZone> zone_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> queries_{0};
  std::thread thread_;
};

}  // namespace berth::agent::network::dns
