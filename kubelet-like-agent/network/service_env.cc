// File: kubelet-like-agent/network/service_env.cc
#include "kubelet-like-agent/network/service_env.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/net/ipv4.h"

namespace berth::agent::network {
namespace {

std::string EnvName(const std::string& s) { return absl::AsciiStrToUpper(absl::StrReplaceAll(s, {{"-", "_"}})); }

void AddService(const json::Value& svc, std::vector<std::string>& out) {
  const std::string ip = svc.GetString({"spec", "clusterIP"});
  if (!net::ParseIpv4(ip).ok()) return;
  const json::Value* ports = svc.Get({"spec", "ports"});
  if (ports == nullptr || !ports->is_array() || ports->as_array().empty()) return;
  const std::string name = EnvName(svc.GetString({"metadata", "name"}));
  auto port_of = [](const json::Value& p) { return p.GetInt({"port"}); };
  const json::Value& first = ports->as_array()[0];
  out.push_back(absl::StrCat(name, "_SERVICE_HOST=", ip));
  out.push_back(absl::StrCat(name, "_SERVICE_PORT=", port_of(first)));
  for (const json::Value& p : ports->as_array()) {
    if (!p.GetString({"name"}).empty()) out.push_back(absl::StrCat(name, "_SERVICE_PORT_", EnvName(p.GetString({"name"})), "=", port_of(p)));
  }
  const std::string first_proto = absl::AsciiStrToLower(first.GetString({"protocol"}, "TCP"));
  out.push_back(absl::StrCat(name, "_PORT=", first_proto, "://", ip, ":", port_of(first)));
  for (const json::Value& p : ports->as_array()) {
    const std::string proto = p.GetString({"protocol"}, "TCP");
    const std::string prefix = absl::StrCat(name, "_PORT_", port_of(p), "_", absl::AsciiStrToUpper(proto));
    out.push_back(absl::StrCat(prefix, "=", absl::AsciiStrToLower(proto), "://", ip, ":", port_of(p)));
    out.push_back(absl::StrCat(prefix, "_PROTO=", absl::AsciiStrToLower(proto)));
    out.push_back(absl::StrCat(prefix, "_PORT=", port_of(p)));
    out.push_back(absl::StrCat(prefix, "_ADDR=", ip));
  }
}

}  // namespace

std::vector<std::string> ServiceEnv(const std::vector<const json::Value*>& services, const std::string& pod_namespace,
                                    bool service_links) {
  // By name, so the result does not depend on the informer's order.
  std::map<std::string, const json::Value*> chosen;
  for (const json::Value* svc : services) {
    std::string ns = svc->GetString({"metadata", "namespace"}), name = svc->GetString({"metadata", "name"});
    if (ns == "default" && name == "kubernetes") chosen[name] = svc;
    else if (service_links && ns == pod_namespace && !chosen.count(name)) chosen[name] = svc;
  }
  std::vector<std::string> out;
  for (const auto& [name, svc] : chosen) AddService(*svc, out);
  return out;
}

}  // namespace berth::agent::network
