// libFuzzer target: hostile DNS packets sent to the cluster DNS responder (any pod can send
// them), and the same bytes as a nameserver's answer to a relayed ExternalName query (the node's
// nameservers are no more trusted). Every input gets an answer or nothing, never a crash, and
// an answer is never larger than what UDP allows without EDNS0.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "core/json/codec.h"
#include "kubelet-like-agent/network/dns/dns_server.h"

using berth::agent::network::dns::ClusterZone;
using berth::agent::network::dns::DnsServer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const ClusterZone> zone = [] {
    static berth::json::Value svc = *berth::json::Parse(
        R"({"metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.37","ports":[{"name":"http","port":80}]}})");
    static berth::json::Value alias = *berth::json::Parse(
        R"({"metadata":{"name":"db","namespace":"default"},"spec":{"type":"ExternalName","externalName":"db.example.org"}})");
    return ClusterZone::Build({&svc, &alias}, {}, "cluster.local");
  }();
  std::string packet(reinterpret_cast<const char*>(data), size);
  std::string udp = DnsServer::Respond(zone.get(), packet, false);
  if (udp.size() > 4096) std::abort();
  (void)DnsServer::Respond(zone.get(), packet, true);
  std::optional<DnsServer::Relay> relay;
  (void)DnsServer::Respond(zone.get(), berth::agent::network::dns::QueryPacket(7, "db.default.svc.cluster.local", 1), false, &relay);
  if (!relay || !relay->finish) std::abort();
  if (relay->finish(packet).size() < 12) std::abort();
  return 0;
}
