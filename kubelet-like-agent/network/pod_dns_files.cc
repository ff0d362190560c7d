// File: kubelet-like-agent/network/pod_dns_files.cc
#include "kubelet-like-agent/network/pod_dns_files.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace berth::agent::network {
using absl::StrCat;
namespace {

struct ResolvConf {
  std::vector<std::string> nameservers, searches, options;
};

ResolvConf ParseResolvConf(const std::string& text) {
  ResolvConf out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    std::vector<std::string> words = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.empty()) continue;
    if (words[0] == "nameserver" && words.size() > 1) out.nameservers.push_back(words[1]);
    else if (words[0] == "search" || words[0] == "domain") out.searches.assign(words.begin() + 1, words.end());
    else if (words[0] == "options") out.options.insert(out.options.end(), words.begin() + 1, words.end());
  }
  return out;
}

void AddUnique(std::vector<std::string>& list, const std::string& v) {
  if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
}

}  // namespace

std::string PodHostname(const json::Value& pod) {
  std::string h = pod.GetString({"spec", "hostname"});
  if (h.empty()) h = pod.GetString({"metadata", "name"}).substr(0, 63);
  while (!h.empty() && (h.back() == '-' || h.back() == '.')) h.pop_back();
  return h;
}

absl::StatusOr<std::string> PodResolvConf(const json::Value& pod, const DnsSettings& s, bool host_network) {
  std::string policy = pod.GetString({"spec", "dnsPolicy"}, "ClusterFirst");
  std::string ns = pod.GetString({"metadata", "namespace"}, "default");
  ResolvConf conf;
  bool cluster = policy == "ClusterFirstWithHostNet" || (policy == "ClusterFirst" && !host_network);
  if (cluster && s.cluster_dns.empty()) cluster = false;  // no cluster DNS: the node's (kubelet's fallback)
  if (policy == "None") {
  } else if (cluster) {
    conf.nameservers = {s.cluster_dns};
    const std::string& d = s.cluster_domain;
    conf.searches = {StrCat(ns, ".svc.", d), StrCat("svc.", d), d};
    // Then the node's own search domains, as the kubelet appends them: the cluster DNS relays
    // those names to the node's nameservers.
    for (const std::string& search : ParseResolvConf(s.node_resolv_conf).searches) AddUnique(conf.searches, search);
    conf.options = {"ndots:5"};
  } else {
    conf = ParseResolvConf(s.node_resolv_conf);
  }
  if (const json::Value* dns = pod.Get({"spec", "dnsConfig"}); dns && dns->is_object()) {
    if (const json::Value* n = dns->Find("nameservers"); n && n->is_array()) {
      for (const json::Value& v : n->as_array()) if (v.is_string()) AddUnique(conf.nameservers, v.as_string());
    }
    if (const json::Value* n = dns->Find("searches"); n && n->is_array()) {
      for (const json::Value& v : n->as_array()) if (v.is_string()) AddUnique(conf.searches, v.as_string());
    }
    if (const json::Value* n = dns->Find("options"); n && n->is_array()) {
      for (const json::Value& o : n->as_array()) {
        std::string name = o.GetString({"name"});
        if (name.empty()) continue;
        std::string entry = o.Find("value") ? StrCat(name, ":", o.GetString({"value"})) : name;
        // A pod's option replaces the one of the same name (ndots:2 over ndots:5).
        conf.options.erase(std::remove_if(conf.options.begin(), conf.options.end(),
                                          [&](const std::string& x) { return x.substr(0, x.find(':')) == name; }),
                           conf.options.end());
        conf.options.push_back(entry);
      }
    }
  }
  if (policy == "None" && conf.nameservers.empty()) {
    return absl::InvalidArgumentError("dnsPolicy None needs spec.dnsConfig.nameservers");
  }
  // glibc reads three nameservers and six search domains at most (the kubelet trims with an Event).
  if (conf.nameservers.size() > 3) conf.nameservers.resize(3);
  if (conf.searches.size() > 32) conf.searches.resize(32);
  std::string out;
  if (!conf.searches.empty()) out += StrCat("search ", absl::StrJoin(conf.searches, " "), "\n");
  for (const std::string& n : conf.nameservers) out += StrCat("nameserver ", n, "\n");
  if (!conf.options.empty()) out += StrCat("options ", absl::StrJoin(conf.options, " "), "\n");
  return out;
}

std::string PodHostsFile(const json::Value& pod, const std::string& pod_ip, const std::string& cluster_domain) {
  std::string out =
      "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n";
  std::string hostname = PodHostname(pod);
  std::string subdomain = pod.GetString({"spec", "subdomain"});
  if (!pod_ip.empty()) {
    if (!subdomain.empty()) {
      out += StrCat(pod_ip, "\t", hostname, ".", subdomain, ".", pod.GetString({"metadata", "namespace"}, "default"), ".svc.",
                    cluster_domain, "\t", hostname, "\n");
    } else {
      out += StrCat(pod_ip, "\t", hostname, "\n");
    }
  }
  if (const json::Value* aliases = pod.Get({"spec", "hostAliases"}); aliases && aliases->is_array() && !aliases->as_array().empty()) {
    out += "\n# Entries added by HostAliases.\n";
    for (const json::Value& a : aliases->as_array()) {
      std::vector<std::string> names;
      if (const json::Value* h = a.Find("hostnames"); h && h->is_array()) {
        for (const json::Value& n : h->as_array()) if (n.is_string()) names.push_back(n.as_string());
      }
      if (!names.empty()) out += StrCat(a.GetString({"ip"}), "\t", absl::StrJoin(names, "\t"), "\n");
    }
  }
  return out;
}

std::vector<std::string> FieldsOnlyThePodNetworkApplies(const json::Value& pod) {
  std::vector<std::string> fields;
  const json::Value* host_network = pod.Get({"spec", "hostNetwork"});
  if (host_network && host_network->is_bool() && host_network->as_bool()) return fields;  // the node's files, on any agent
  if (const json::Value* dns = pod.Get({"spec", "dnsConfig"}); dns && dns->is_object() && !dns->as_object().empty()) {
    fields.push_back("spec.dnsConfig");
  }
  if (const json::Value* aliases = pod.Get({"spec", "hostAliases"}); aliases && aliases->is_array() && !aliases->as_array().empty()) {
    fields.push_back("spec.hostAliases");
  }
  return fields;
}

}  // namespace berth::agent::network
