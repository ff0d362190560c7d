#pragma once
// File: kubelet-like-agent/network/service_rules.h
// The Service proxy's rules, pure: Services and their EndpointSlices in, the nft script of table
// `ip berth` out, in kube-proxy's nftables-mode layout (pkg/proxy/nftables): a `service-ips`
// verdict map from clusterIP . protocol . port to a chain per Service port that spreads new
// connections at random over the endpoints (numgen), one chain per endpoint that DNATs (and
// marks hairpin traffic for masquerade), `service-nodeports` entered for local destination
// addresses, `no-endpoint-services` rejecting at once (ECONNREFUSED, not a timeout) when a
// Service has no endpoints, ClientIP affinity through a timeout set per endpoint, and a reject of
// any other address of the service range. Endpoints: the ready ones; when none is ready, the
// serving-and-terminating ones (KEP-1669).

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/json/value.h"
#include "core/net/ipv4.h"

namespace berth::agent::network {

struct ServiceRulesOptions {
  net::Ipv4Prefix cluster_cidr{0x0af40000, 16};
  net::Ipv4Prefix service_cidr{0x0a600000, 12};
};

// One Service port as programmed.
struct ServicePortRule {
  std::string name;             // <ns>/<svc>/<proto>/<port name>
  std::string chain_id;         // a stable short hash of name
  std::string cluster_ip;
  std::string protocol;         // tcp, udp, sctp
  int port = 0;
  int node_port = 0;            // 0: none
  int affinity_seconds = 0;     // ClientIP affinity timeout, 0: none
  std::vector<std::pair<std::string, int>> endpoints;  // address, port
};

// The Service ports to program, from the Services and the EndpointSlices (any namespace).
std::vector<ServicePortRule> ServicePortRules(const std::vector<const json::Value*>& services,
                                              const std::vector<const json::Value*>& slices);

// The table as data: what the full and the incremental scripts are rendered from.
struct ServiceTable {
  ServiceRulesOptions options;
  std::map<std::string, std::vector<std::string>> chains;  // Service, endpoint and NodePort chains: rules
  std::map<std::string, std::string> sets;                 // affinity sets: their definition
  std::map<std::string, std::set<std::string>> maps;       // verdict map -> "key : verdict" elements
  bool operator==(const ServiceTable& o) const { return chains == o.chains && sets == o.sets && maps == o.maps; }
};
ServiceTable BuildServiceTable(const std::vector<ServicePortRule>& rules, const ServiceRulesOptions& options);

// The whole table, replacing any earlier one in the same transaction (start, and recovery).
std::string FullTableScript(const ServiceTable& table);
// One transaction turning `from` (programmed) into `to`: only the chains, sets and map elements
// that differ, as kube-proxy's partial syncs. Empty when nothing differs.
std::string IncrementalTableScript(const ServiceTable& from, const ServiceTable& to);
std::string ServiceTableScript(const std::vector<ServicePortRule>& rules, const ServiceRulesOptions& options);

}  // namespace berth::agent::network
