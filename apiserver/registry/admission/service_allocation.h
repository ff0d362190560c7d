#pragma once
// File: apiserver/registry/admission/service_allocation.h
// ClusterIPs and NodePorts for Services, decided in the apiserver as Kubernetes does: in the
// create (or update) itself, so the allocation is durable in the same write as the Service that
// holds it. A requested clusterIP or nodePort that is outside its range or taken is 422 naming
// the field, and nothing is stored. What is taken is rebuilt from the stored Services at start
// and followed through the registry's commit observer afterwards (a delete frees); decisions not
// yet committed are held as short-lived reservations, so two concurrent creates never get the
// same address, and a reservation whose write failed lapses after a minute.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "apiserver/registry/admission/admission_plugin.h"
#include "apiserver/registry/admission/range_allocator.h"
#include "core/net/ipv4.h"
#include "core/time/clock.h"

namespace berth::apiserver::registry {

struct ServiceRanges {
  net::Ipv4Prefix cluster_ips{0x0a600000, 12};  // --service-cluster-ip-range 10.96.0.0/12
  int node_port_first = 30000, node_port_last = 32767;  // --service-node-port-range
};

class ServiceAllocation final : public AdmissionPlugin {
 public:
  ServiceAllocation(ServiceRanges ranges, const Clock& clock);
  absl::Status Mutate(const AdmissionAttributes& attrs, json::Value& object) const override;
  // Follows what is stored: call with every committed Service (and at start with each stored one).
  void Observe(const json::Value& service, bool removed);
  const ServiceRanges& ranges() const { return ranges_; }
  // The `kubernetes` Service's address: the first of the range.
  uint32_t KubernetesServiceIp() const { return ranges_.cluster_ips.network + 1; }

 private:
  struct Held {
    std::set<uint64_t> ips, ports;
  };
  struct Reservation {
    Held held;
    absl::Time expires;
  };
  // Everything taken by Services other than `owner` (committed, and reservations not lapsed).
  Held TakenByOthers(const std::string& owner) const;

  const ServiceRanges ranges_;
  const Clock& clock_;
  mutable std::mutex mu_;
  mutable RangeAllocator ips_, ports_;
  std::map<std::string, Held> committed_;  // by namespace/name
  mutable std::map<std::string, Reservation> reserved_;
};

absl::StatusOr<ServiceRanges> ParseServiceRanges(const std::string& cluster_ip_range, const std::string& node_port_range);

}  // namespace berth::apiserver::registry
