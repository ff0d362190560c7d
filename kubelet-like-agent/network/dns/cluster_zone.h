#pragma once
// File: kubelet-like-agent/network/dns/cluster_zone.h
// The cluster's DNS records (Kubernetes DNS specification 1.0.1), built from the Services and
// EndpointSlices the agent watches, and the answer to one question: A for a Service's
// clusterIP, or a headless Service's ready endpoints (and `<hostname>.<svc>...` for endpoints
// with a hostname); SRV `_<port>._<proto>.<svc>...` for named ports; PTR for ClusterIPs and
// named headless endpoints; `dns-version.<zone>` TXT; `a-b-c-d.<ns>.pod.<zone>` A; CNAME for an
// ExternalName Service (followed when the target is in the zone, else left to the server to
// resolve through the node's nameservers: Answer::follow). An existing
// name asked for another type is NODATA (not NXDOMAIN: glibc asks AAAA too); an unknown name in
// the zone NXDOMAIN with the SOA; a name outside the zone REFUSED (nothing is forwarded).

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/json/value.h"
#include "kubelet-like-agent/network/dns/dns_wire.h"

namespace berth::agent::network::dns {

constexpr uint32_t kTtl = 5;

struct Answer {
  Rcode rcode = kNoError;
  std::vector<Record> answers, authority;
  // An ExternalName's target outside the zone: its records, asked of the node's nameservers,
  // belong after `answers` (which hold the CNAME).
  std::string follow;
};

class ClusterZone {
 public:
  static std::shared_ptr<const ClusterZone> Build(const std::vector<const json::Value*>& services,
                                                  const std::vector<const json::Value*>& slices, const std::string& domain);
  Answer Resolve(const std::string& name, uint16_t type) const { return Resolve(name, type, 0); }
  const std::string& domain() const { return domain_; }

 private:
  struct Port {
    std::string name, protocol;  // protocol lower-case
    uint16_t port = 0;
  };
  struct Endpoint {
    uint32_t ip = 0;
    std::string hostname;  // "" when the endpoint has none
    std::vector<Port> ports;
  };
  Answer Resolve(const std::string& name, uint16_t type, int depth) const;
  struct ServiceEntry {
    std::string external_name;  // an ExternalName Service's target (lower-case, no trailing dot)
    bool headless = false;
    uint32_t cluster_ip = 0;
    std::vector<Port> ports;
    std::vector<Endpoint> endpoints;  // ready ones (headless only)
  };
  std::string domain_;
  std::map<std::string, ServiceEntry> services_;   // "<svc>.<ns>.svc.<domain>"
  std::map<std::string, std::string> reverse_;     // "d.c.b.a.in-addr.arpa" -> name
  std::set<std::string> namespaces_;
};

}  // namespace berth::agent::network::dns
