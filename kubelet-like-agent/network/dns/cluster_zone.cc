// File: kubelet-like-agent/network/dns/cluster_zone.cc
#include "kubelet-like-agent/network/dns/cluster_zone.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/net/ipv4.h"

namespace berth::agent::network::dns {
namespace {

using absl::StrCat;

std::string ReverseName(uint32_t ip) {
  return StrCat(ip & 255, ".", (ip >> 8) & 255, ".", (ip >> 16) & 255, ".", ip >> 24, ".in-addr.arpa");
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::shared_ptr<const ClusterZone> ClusterZone::Build(const std::vector<const json::Value*>& services,
                                                      const std::vector<const json::Value*>& slices, const std::string& domain) {
  auto zone = std::make_shared<ClusterZone>();
  zone->domain_ = absl::AsciiStrToLower(domain);
  std::map<std::string, std::vector<const json::Value*>> slices_by_service;
  for (const json::Value* s : slices) {
    if (s->GetString({"addressType"}) != "IPv4") continue;
    std::string svc = s->GetString({"metadata", "labels", "kubernetes.io/service-name"});
    if (!svc.empty()) slices_by_service[StrCat(s->GetString({"metadata", "namespace"}), "/", svc)].push_back(s);
  }
  for (const json::Value* svc : services) {
    std::string ns = absl::AsciiStrToLower(svc->GetString({"metadata", "namespace"}));
    std::string name = absl::AsciiStrToLower(svc->GetString({"metadata", "name"}));
    std::string fqdn = StrCat(name, ".", ns, ".svc.", zone->domain_);
    std::string ip = svc->GetString({"spec", "clusterIP"});
    ServiceEntry e;
    if (svc->GetString({"spec", "type"}) == "ExternalName") {
      std::string target = absl::AsciiStrToLower(svc->GetString({"spec", "externalName"}));
      while (!target.empty() && target.back() == '.') target.pop_back();
      if (target.empty()) continue;
      e.external_name = std::move(target);
      zone->namespaces_.insert(ns);
      zone->services_[fqdn] = std::move(e);
      continue;
    }
    e.headless = ip == "None";
    if (!e.headless) {
      auto parsed = net::ParseIpv4(ip);
      if (!parsed.ok()) continue;
      e.cluster_ip = *parsed;
      zone->reverse_[ReverseName(*parsed)] = fqdn;
    }
    if (const json::Value* ports = svc->Get({"spec", "ports"}); ports && ports->is_array()) {
      for (const json::Value& p : ports->as_array()) {
        e.ports.push_back({absl::AsciiStrToLower(p.GetString({"name"})), absl::AsciiStrToLower(p.GetString({"protocol"}, "TCP")),
                           static_cast<uint16_t>(p.GetInt({"port"}))});
      }
    }
    if (e.headless) {
      for (const json::Value* slice : slices_by_service[StrCat(svc->GetString({"metadata", "namespace"}), "/",
                                                               svc->GetString({"metadata", "name"}))]) {
        std::vector<Port> slice_ports;
        if (const json::Value* ports = slice->Find("ports"); ports && ports->is_array()) {
          for (const json::Value& p : ports->as_array()) {
            slice_ports.push_back({absl::AsciiStrToLower(p.GetString({"name"})), absl::AsciiStrToLower(p.GetString({"protocol"}, "TCP")),
                                   static_cast<uint16_t>(p.GetInt({"port"}))});
          }
        }
        const json::Value* eps = slice->Find("endpoints");
        if (eps == nullptr || !eps->is_array()) continue;
        for (const json::Value& ep : eps->as_array()) {
          const json::Value* ready = ep.Get({"conditions", "ready"});
          if (ready != nullptr && ready->is_bool() && !ready->as_bool()) continue;
          const json::Value* addresses = ep.Find("addresses");
          if (addresses == nullptr || !addresses->is_array()) continue;
          for (const json::Value& a : addresses->as_array()) {
            auto parsed = a.is_string() ? net::ParseIpv4(a.as_string()) : absl::StatusOr<uint32_t>(absl::InvalidArgumentError(""));
            if (!parsed.ok()) continue;
            Endpoint endpoint{*parsed, absl::AsciiStrToLower(ep.GetString({"hostname"})), slice_ports};
            if (!endpoint.hostname.empty()) zone->reverse_[ReverseName(*parsed)] = StrCat(endpoint.hostname, ".", fqdn);
            e.endpoints.push_back(std::move(endpoint));
          }
        }
      }
      std::sort(e.endpoints.begin(), e.endpoints.end(), [](const Endpoint& a, const Endpoint& b) { return a.ip < b.ip; });
    }
    zone->namespaces_.insert(ns);
    zone->services_[fqdn] = std::move(e);
  }
  return zone;
}

Answer ClusterZone::Resolve(const std::string& name, uint16_t type, int depth) const {
  Answer a;
  const bool in_zone = name == domain_ || EndsWith(name, "." + domain_);
  const bool reverse = EndsWith(name, ".in-addr.arpa") || name == "in-addr.arpa";
  if (!in_zone && !reverse) {
    a.rcode = kRefused;
    return a;
  }
  auto nxdomain = [&] {
    a.rcode = kNxDomain;
    a.answers.clear();
    a.authority = {SoaRecord(in_zone ? domain_ : "in-addr.arpa", kTtl)};
    return a;
  };
  auto nodata = [&] {
    a.authority = {SoaRecord(in_zone ? domain_ : "in-addr.arpa", kTtl)};
    return a;
  };
  if (reverse) {
    auto it = reverse_.find(name);
    if (it == reverse_.end()) return nxdomain();
    if (type == kPtr || type == kAny) a.answers.push_back(PtrRecord(name, it->second, kTtl));
    return a.answers.empty() ? nodata() : a;
  }
  // The zone's own names: the apex, svc., pod., namespaces.
  const std::string svc_suffix = ".svc." + domain_;
  if (name == domain_ || name == "svc." + domain_ || name == "pod." + domain_) return nodata();
  if (name == "dns-version." + domain_) {
    if (type == kTxt || type == kAny) a.answers.push_back(TxtRecord(name, "1.0.1", kTtl));
    return a.answers.empty() ? nodata() : a;
  }
  // a-b-c-d.<ns>.pod.<zone>
  if (EndsWith(name, ".pod." + domain_)) {
    std::vector<std::string> labels = absl::StrSplit(name.substr(0, name.size() - domain_.size() - 5), '.');
    if (labels.size() == 1) return namespaces_.count(labels[0]) ? nodata() : nxdomain();
    if (labels.size() != 2) return nxdomain();
    auto ip = net::ParseIpv4(absl::StrReplaceAll(labels[0], {{"-", "."}}));
    if (!ip.ok()) return nxdomain();
    if (type == kA || type == kAny) a.answers.push_back(ARecord(name, *ip, kTtl));
    return a.answers.empty() ? nodata() : a;
  }
  if (!EndsWith(name, svc_suffix)) return nxdomain();
  std::vector<std::string> labels = absl::StrSplit(name.substr(0, name.size() - svc_suffix.size()), '.');
  if (labels.size() == 1) return namespaces_.count(labels[0]) ? nodata() : nxdomain();  // <ns>.svc.<zone>
  const std::string ns = labels.back();
  if (labels.size() == 2) {
    // <svc>.<ns>.svc.<zone>
    auto it = services_.find(name);
    if (it == services_.end()) return nxdomain();
    const ServiceEntry& e = it->second;
    if (!e.external_name.empty()) {
      // A CNAME answers every type but its own with the target's records too (RFC 1034 3.6.2).
      a.answers.push_back(CnameRecord(name, e.external_name, kTtl));
      if (type == kCname) return a;
      const bool target_in_zone = e.external_name == domain_ || EndsWith(e.external_name, "." + domain_);
      if (!target_in_zone) {
        a.follow = e.external_name;
        return a;
      }
      if (depth >= 8) return a;  // a chain of ExternalNames that loops
      Answer target = Resolve(e.external_name, type, depth + 1);
      a.rcode = target.rcode;
      a.answers.insert(a.answers.end(), target.answers.begin(), target.answers.end());
      a.authority = std::move(target.authority);
      a.follow = std::move(target.follow);
      return a;
    }
    if (e.headless && e.endpoints.empty()) return nxdomain();
    if (type == kA || type == kAny) {
      if (!e.headless) a.answers.push_back(ARecord(name, e.cluster_ip, kTtl));
      for (const Endpoint& ep : e.endpoints) a.answers.push_back(ARecord(name, ep.ip, kTtl));
    }
    return a.answers.empty() ? nodata() : a;
  }
  const std::string service_fqdn = StrCat(labels[labels.size() - 2], ".", ns, svc_suffix);
  auto it = services_.find(service_fqdn);
  if (it == services_.end()) return nxdomain();
  const ServiceEntry& e = it->second;
  if (labels.size() == 3 && labels[0].size() > 0 && labels[0][0] != '_') {
    // <hostname>.<svc>.<ns>.svc.<zone>: a headless endpoint with that hostname.
    for (const Endpoint& ep : e.endpoints) {
      if (ep.hostname == labels[0]) {
        if (type == kA || type == kAny) a.answers.push_back(ARecord(name, ep.ip, kTtl));
        return a.answers.empty() ? nodata() : a;
      }
    }
    return nxdomain();
  }
  if (labels.size() == 4 && labels[0].size() > 1 && labels[0][0] == '_' && labels[1].size() > 1 && labels[1][0] == '_') {
    // _<port>._<proto>.<svc>.<ns>.svc.<zone>
    const std::string port_name = labels[0].substr(1), protocol = labels[1].substr(1);
    bool found = false;
    if (!e.headless) {
      for (const Port& p : e.ports) {
        if (p.name == port_name && p.protocol == protocol) {
          found = true;
          if (type == kSrv || type == kAny) a.answers.push_back(SrvRecord(name, 0, 100, p.port, service_fqdn, kTtl));
        }
      }
    } else {
      for (const Endpoint& ep : e.endpoints) {
        for (const Port& p : ep.ports) {
          if (p.name != port_name || p.protocol != protocol) continue;
          found = true;
          std::string host = ep.hostname.empty() ? absl::StrReplaceAll(net::FormatIpv4(ep.ip), {{".", "-"}}) : ep.hostname;
          if (type == kSrv || type == kAny) a.answers.push_back(SrvRecord(name, 0, 100, p.port, StrCat(host, ".", service_fqdn), kTtl));
        }
      }
    }
    if (!found) return nxdomain();
    return a.answers.empty() ? nodata() : a;
  }
  return nxdomain();
}

}  // namespace berth::agent::network::dns
