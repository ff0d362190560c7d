// File: apiserver/registry/admission/service_allocation.cc
#include "apiserver/registry/admission/service_allocation.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "apiserver/registry/resource_type.h"
#include "core/api/errors.h"

namespace berth::apiserver::registry {
namespace {

using absl::StrCat;

bool NeedsNodePorts(const std::string& type) { return type == "NodePort" || type == "LoadBalancer"; }

// The lower band users pick addresses from themselves: min(max(16, size/16), 256) (KEP-3070).
uint64_t StaticBand(uint64_t size) { return std::min<uint64_t>(std::max<uint64_t>(16, size / 16), 256); }

}  // namespace

absl::StatusOr<ServiceRanges> ParseServiceRanges(const std::string& cluster_ip_range, const std::string& node_port_range) {
  ServiceRanges r;
  auto prefix = net::ParseIpv4Prefix(cluster_ip_range);
  if (!prefix.ok()) return absl::InvalidArgumentError(StrCat("--service-cluster-ip-range: ", prefix.status().message()));
  if (prefix->length > 28 || prefix->length < 8) {
    return absl::InvalidArgumentError(StrCat("--service-cluster-ip-range ", cluster_ip_range, ": the prefix must be /8 to /28"));
  }
  r.cluster_ips = *prefix;
  std::vector<std::string> parts = absl::StrSplit(node_port_range, '-');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &r.node_port_first) || !absl::SimpleAtoi(parts[1], &r.node_port_last) ||
      r.node_port_first < 1 || r.node_port_last > 65535 || r.node_port_first > r.node_port_last) {
    return absl::InvalidArgumentError(StrCat("--service-node-port-range: \"", node_port_range, "\" is not FIRST-LAST within 1-65535"));
  }
  return r;
}

ServiceAllocation::ServiceAllocation(ServiceRanges ranges, const Clock& clock)
    : ranges_(ranges),
      clock_(clock),
      // Neither the network address nor the broadcast address is handed out.
      ips_(ranges.cluster_ips.network + 1, ranges.cluster_ips.broadcast() - 1, StaticBand(ranges.cluster_ips.size())),
      ports_(ranges.node_port_first, ranges.node_port_last,
             StaticBand(static_cast<uint64_t>(ranges.node_port_last - ranges.node_port_first + 1))) {}

ServiceAllocation::Held ServiceAllocation::TakenByOthers(const std::string& owner) const {
  Held taken;
  for (const auto& [who, held] : committed_) {
    if (who == owner) continue;
    taken.ips.insert(held.ips.begin(), held.ips.end());
    taken.ports.insert(held.ports.begin(), held.ports.end());
  }
  const absl::Time now = clock_.Now();
  for (auto it = reserved_.begin(); it != reserved_.end();) {
    if (it->second.expires <= now) {
      it = reserved_.erase(it);  // its write never committed
      continue;
    }
    if (it->first != owner) {
      taken.ips.insert(it->second.held.ips.begin(), it->second.held.ips.end());
      taken.ports.insert(it->second.held.ports.begin(), it->second.held.ports.end());
    }
    ++it;
  }
  return taken;
}

absl::Status ServiceAllocation::Mutate(const AdmissionAttributes& attrs, json::Value& object) const {
  if (attrs.type.group != "" || attrs.type.kind != "Service") return absl::OkStatus();
  const std::string name = object.GetString({"metadata", "name"});
  const std::string owner = StrCat(object.GetString({"metadata", "namespace"}), "/", name);
  json::Value& spec = object.Ensure({"spec"});
  const std::string type = spec.GetString({"type"}, "ClusterIP");
  const json::Value* old_spec = attrs.old ? attrs.old->Get({"spec"}) : nullptr;
  std::vector<api::Cause> causes;
  std::lock_guard<std::mutex> lock(mu_);
  Held taken = TakenByOthers(owner);
  Held mine;

  if (type != "ExternalName") {
    std::string ip = spec.GetString({"clusterIP"});
    if (ip.empty()) {
      if (const json::Value* ips = spec.Find("clusterIPs"); ips && ips->is_array() && !ips->as_array().empty() &&
                                                          ips->as_array()[0].is_string()) {
        ip = ips->as_array()[0].as_string();
      }
    }
    // An update that leaves the address out keeps it (kubectl apply of a manifest without one).
    if (ip.empty() && old_spec != nullptr) ip = old_spec->GetString({"clusterIP"});
    if (ip.empty()) {
      std::optional<uint64_t> next = ips_.Next(taken.ips);
      if (!next) {
        causes.push_back({"FieldValueInvalid", StrCat("failed to allocate IP: the range ", ranges_.cluster_ips.ToString(), " is full"),
                          "spec.clusterIPs"});
      } else {
        ip = net::FormatIpv4(static_cast<uint32_t>(*next));
        mine.ips.insert(*next);
      }
    } else if (ip != "None") {
      auto parsed = net::ParseIpv4(ip);
      const bool unchanged = old_spec != nullptr && old_spec->GetString({"clusterIP"}) == ip;
      if (!parsed.ok()) {
        causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", ip, "\": must be a valid IP address"), "spec.clusterIPs[0]"});
      } else if (!ips_.Contains(*parsed)) {
        causes.push_back({"FieldValueInvalid",
                          StrCat("Invalid value: \"", ip, "\": failed to allocate IP ", ip, ": the provided IP (", ip,
                                 ") is not in the valid range. The range of valid IPs is ", ranges_.cluster_ips.ToString()),
                          "spec.clusterIPs"});
      } else if (taken.ips.count(*parsed) && !unchanged) {
        causes.push_back({"FieldValueInvalid",
                          StrCat("Invalid value: \"", ip, "\": failed to allocate IP ", ip, ": provided IP is already allocated"),
                          "spec.clusterIPs"});
      } else {
        mine.ips.insert(*parsed);
      }
    }
    if (!ip.empty()) {
      spec.Set("clusterIP", ip);
      spec.Set("clusterIPs", json::Value(json::Array{json::Value(ip)}));
      if (spec.Find("ipFamilies") == nullptr) spec.Set("ipFamilies", json::Value(json::Array{json::Value("IPv4")}));
      if (spec.Find("ipFamilyPolicy") == nullptr) spec.Set("ipFamilyPolicy", "SingleStack");
    }
  }

  if (json::Value* ports = spec.Find("ports"); ports && ports->is_array()) {
    auto& items = ports->as_array();
    for (size_t i = 0; i < items.size(); ++i) {
      json::Value& p = items[i];
      if (!p.is_object()) continue;
      const std::string field = StrCat("spec.ports[", i, "].nodePort");
      int64_t node_port = p.GetInt({"nodePort"});
      if (!NeedsNodePorts(type)) {
        if (node_port != 0) {
          causes.push_back({"FieldValueForbidden", StrCat("may not be used when `type` is '", type, "'"), field});
        }
        continue;
      }
      if (node_port == 0 && old_spec != nullptr) {
        // The same port of the Service before the update keeps its nodePort.
        if (const json::Value* before = old_spec->Find("ports"); before && before->is_array()) {
          for (const json::Value& b : before->as_array()) {
            if (b.GetInt({"port"}, -1) == p.GetInt({"port"}, -2) &&
                b.GetString({"protocol"}, "TCP") == p.GetString({"protocol"}, "TCP")) {
              node_port = b.GetInt({"nodePort"});
            }
          }
        }
      }
      if (node_port == 0) {
        std::set<uint64_t> avoid = taken.ports;
        avoid.insert(mine.ports.begin(), mine.ports.end());
        std::optional<uint64_t> next = ports_.Next(avoid);
        if (!next) {
          causes.push_back({"FieldValueInvalid", "failed to allocate a nodePort: the range is full", field});
          continue;
        }
        node_port = static_cast<int64_t>(*next);
      } else if (!ports_.Contains(static_cast<uint64_t>(node_port))) {
        causes.push_back({"FieldValueInvalid",
                          StrCat("Invalid value: ", node_port, ": provided port is not in the valid range. The range of valid ports is ",
                                 ranges_.node_port_first, "-", ranges_.node_port_last),
                          field});
        continue;
      } else if (taken.ports.count(static_cast<uint64_t>(node_port))) {
        causes.push_back({"FieldValueInvalid", StrCat("Invalid value: ", node_port, ": provided port is already allocated"), field});
        continue;
      }
      mine.ports.insert(static_cast<uint64_t>(node_port));
      p.Set("nodePort", node_port);
    }
  }
  if (NeedsNodePorts(type) && spec.Find("externalTrafficPolicy") == nullptr) spec.Set("externalTrafficPolicy", "Cluster");
  if (!causes.empty()) return api::Invalid(attrs.type.Target(name), std::move(causes));
  if (!attrs.dry_run) reserved_[owner] = Reservation{std::move(mine), clock_.Now() + absl::Minutes(1)};
  return absl::OkStatus();
}

void ServiceAllocation::Observe(const json::Value& service, bool removed) {
  const std::string owner = StrCat(service.GetString({"metadata", "namespace"}), "/", service.GetString({"metadata", "name"}));
  std::lock_guard<std::mutex> lock(mu_);
  reserved_.erase(owner);
  if (removed) {
    committed_.erase(owner);
    return;
  }
  Held held;
  if (auto ip = net::ParseIpv4(service.GetString({"spec", "clusterIP"})); ip.ok()) held.ips.insert(*ip);
  if (const json::Value* ports = service.Get({"spec", "ports"}); ports && ports->is_array()) {
    for (const json::Value& p : ports->as_array()) {
      int64_t np = p.GetInt({"nodePort"});
      if (np > 0) held.ports.insert(static_cast<uint64_t>(np));
    }
  }
  committed_[owner] = std::move(held);
}

}  // namespace berth::apiserver::registry
