#pragma once
// File: kubelet-like-agent/network/pod_dns_files.h
// The /etc/resolv.conf and /etc/hosts the kubelet gives a pod: resolv.conf by dnsPolicy
// (ClusterFirst: the cluster DNS with `<ns>.svc.<domain> svc.<domain> <domain>` and the node's
// search domains, and ndots:5;
// Default: the node's; None: dnsConfig only) merged with dnsConfig; a managed hosts file with
// the pod's own name (FQDN when hostname and subdomain are set) and hostAliases.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::agent::network {

struct DnsSettings {
  std::string cluster_dns;  // empty: ClusterFirst falls back to Default, as the kubelet does
  std::string cluster_domain = "cluster.local";
  std::string node_resolv_conf;  // the node's resolv.conf text
};

// The file's text. `host_network`: the pod uses the node's network (ClusterFirst means Default
// there unless the policy is ClusterFirstWithHostNet).
absl::StatusOr<std::string> PodResolvConf(const json::Value& pod, const DnsSettings& settings, bool host_network);
std::string PodHostsFile(const json::Value& pod, const std::string& pod_ip, const std::string& cluster_domain);
// spec.hostname, or the pod's name cut to 63 characters (a DNS label), as the kubelet names it.
std::string PodHostname(const json::Value& pod);
// The fields of a pod off the host network that only the pod network honours (its resolv.conf
// and hosts files): what an agent without it tells the pod it did not apply.
std::vector<std::string> FieldsOnlyThePodNetworkApplies(const json::Value& pod);

}  // namespace berth::agent::network
