// File: unit/kubelet-like-agent/network/network_test.cc
// The pod network's decisions against FakeNetworkDriver: IPAM on disk, sandboxes, teardown and
// garbage collection, routes to other nodes, the node table, and the pods' /etc files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/json/codec.h"
#include "kubelet-like-agent/network/fake_network_driver.h"
#include "kubelet-like-agent/network/ipam.h"
#include "kubelet-like-agent/network/node_routes.h"
#include "kubelet-like-agent/network/pod_dns_files.h"
#include "kubelet-like-agent/network/pod_network.h"
#include "kubelet-like-agent/network/service_rules.h"
#include "kubelet-like-agent/network/dns/dns_server.h"
#include "absl/strings/str_cat.h"

namespace berth::agent::network {
namespace {
namespace fs = std::filesystem;

net::Ipv4Prefix P(const char* s) { return *net::ParseIpv4Prefix(s); }
uint32_t Ip(const char* s) { return *net::ParseIpv4(s); }

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-net-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(HostLocalIpam, KeepsAnOwnersAddressAndDoesNotReuseAFreedOneAtOnce) {
  TempDir dir;
  HostLocalIpam ipam(dir.path(), P("10.244.1.0/29"));  // hosts .2 .. .6 (.1 is the gateway)
  EXPECT_EQ(ipam.gateway(), Ip("10.244.1.1"));
  auto a = ipam.Allocate("pod-a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(net::FormatIpv4(*a), "10.244.1.2");
  EXPECT_EQ(*ipam.Allocate("pod-a"), *a);  // asked again (an agent restart): the same
  auto b = ipam.Allocate("pod-b");
  EXPECT_EQ(net::FormatIpv4(*b), "10.244.1.3");
  ASSERT_TRUE(ipam.Release("pod-a").ok());
  EXPECT_EQ(net::FormatIpv4(*ipam.Allocate("pod-c")), "10.244.1.4");  // round-robin
  // On disk, in host-local's layout: a file per address naming its owner.
  std::ifstream f(dir.path() + "/10.244.1.3");
  std::string owner;
  f >> owner;
  EXPECT_EQ(owner, "pod-b");
  // A second allocator over the same directory (the agent after a restart) sees the same.
  HostLocalIpam again(dir.path(), P("10.244.1.0/29"));
  EXPECT_EQ(again.Find("pod-b"), b.value());
  EXPECT_EQ(net::FormatIpv4(*again.Allocate("pod-d")), "10.244.1.5");
  EXPECT_EQ(net::FormatIpv4(*again.Allocate("pod-e")), "10.244.1.6");
  EXPECT_EQ(net::FormatIpv4(*again.Allocate("pod-f")), "10.244.1.2");  // wrapped to the freed one
  EXPECT_EQ(again.Allocate("pod-g").status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(PodNetwork, SetsUpFindsAndTearsDownSandboxes) {
  TempDir dir;
  FakeNetworkDriver driver;
  PodNetworkOptions options;
  options.netns_dir = dir.path() + "/netns";
  options.ipam_dir = dir.path() + "/ipam";
  PodNetwork network(driver, options);
  EXPECT_EQ(network.SetUp("uid-1", false).status().code(), absl::StatusCode::kUnavailable);  // no podCIDR yet
  ASSERT_TRUE(network.SetPodCidr(P("10.244.3.0/24")).ok());
  EXPECT_EQ(driver.bridges["berth0"], std::make_pair(Ip("10.244.3.1"), 24));
  EXPECT_TRUE(driver.routes.at(P("10.244.0.0/16")).unreachable);
  EXPECT_EQ(driver.routes.at(P("10.96.0.0/12")).device, "berth0");
  auto s = network.SetUp("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", false, {{"tcp", 8080, 80}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ip, "10.244.3.2");
  const PodLink& link = driver.links.at("veth0f1e2d3c4b5");
  EXPECT_EQ(link.gateway, Ip("10.244.3.1"));
  EXPECT_EQ(link.netns_path, options.netns_dir + "/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
  EXPECT_NE(driver.nft_scripts.back().find("tcp dport 8080 dnat ip to 10.244.3.2:80"), std::string::npos);
  // A second SetUp (the agent restarted) finds the same sandbox.
  auto again = network.SetUp("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", false, {{"tcp", 8080, 80}});
  EXPECT_EQ(again->ip, "10.244.3.2");
  auto iso = network.SetUp("iso", true);
  ASSERT_TRUE(iso.ok());
  EXPECT_EQ(iso->ip, "");
  EXPECT_EQ(driver.links.size(), 1u);
  // A failed link leaves no address behind.
  driver.fail_next_link = true;
  EXPECT_FALSE(network.SetUp("uid-fail", false).ok());
  HostLocalIpam ipam(options.ipam_dir, P("10.244.3.0/24"));
  EXPECT_FALSE(ipam.Find("uid-fail").has_value());
  // Garbage collection keeps what lives and removes the rest.
  fs::create_directories(options.netns_dir);
  std::ofstream(options.netns_dir + "/gone-uid").put('x');
  driver.netns.insert(options.netns_dir + "/gone-uid");
  network.CollectGarbage({"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"});
  EXPECT_EQ(driver.netns, std::set<std::string>{options.netns_dir + "/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"});
  ASSERT_TRUE(network.TearDown("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").ok());
  EXPECT_TRUE(driver.links.empty());
  EXPECT_TRUE(driver.netns.empty());
  EXPECT_TRUE(ipam.Allocations().empty());
  EXPECT_EQ(driver.nft_scripts.back().find("dnat ip to"), std::string::npos);  // its hostPort went with it
  EXPECT_TRUE(network.TearDown("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").ok());  // idempotent
}

TEST(NodeTable, DropsOrMasqueradesEgressBeyondTheClusterRanges) {
  PodNetworkOptions options;
  std::string drop = NodeTableScript(options, "10.244.3.0/24", {});
  EXPECT_NE(drop.find("iifname \"berth0\" ip daddr { 10.244.0.0/16, 10.96.0.0/12 } accept"), std::string::npos);
  EXPECT_NE(drop.find("iifname \"berth0\" drop"), std::string::npos);
  // What a Service sent beyond the cluster (the kubernetes Service's apiserver address) passes,
  // behind the node; nothing else leaves.
  EXPECT_LT(drop.find("iifname \"berth0\" ct status dnat accept"), drop.find("iifname \"berth0\" drop"));
  EXPECT_NE(drop.find("ip saddr 10.244.3.0/24 ct status dnat ip daddr != { 10.244.0.0/16, 10.96.0.0/12 } masquerade"),
            std::string::npos);
  EXPECT_EQ(drop.find("ip saddr 10.244.3.0/24 ip daddr"), std::string::npos);
  EXPECT_EQ(drop.rfind("table ip berth-node {}\ndelete table ip berth-node\n", 0), 0u);  // atomic replacement
  options.masquerade = true;
  std::string masq = NodeTableScript(options, "10.244.3.0/24", {});
  EXPECT_NE(masq.find("ip saddr 10.244.3.0/24 ip daddr != { 10.244.0.0/16, 10.96.0.0/12 } masquerade"), std::string::npos);
  EXPECT_EQ(masq.find("iifname \"berth0\" drop"), std::string::npos);
}

json::Value Node(const std::string& name, const std::string& cidr, const std::string& ip, bool annotate) {
  std::string meta = annotate ? R"(,"annotations":{"berth.dev/pod-network-ip":")" + ip + R"("})" : "";
  return *json::Parse(R"({"metadata":{"name":")" + name + "\"" + meta + R"(},"spec":{"podCIDR":")" + cidr +
                      R"("},"status":{"addresses":[{"type":"InternalIP","address":"192.168.9.9"}]}})");
}

TEST(NodeRoutes, RoutesOtherNodesPodsAndForgetsNodesThatGo) {
  json::Value a = Node("a", "10.244.0.0/24", "172.30.0.1", true);
  json::Value b = Node("b", "10.244.1.0/24", "172.30.0.2", true);
  json::Value c = Node("c", "10.244.2.0/24", "", false);       // InternalIP
  json::Value outside = Node("d", "10.9.0.0/24", "172.30.0.4", true);
  std::vector<Route> routes = PeerRoutes({&a, &b, &c, &outside}, "a", P("10.244.0.0/16"));
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0], (Route{P("10.244.1.0/24"), Ip("172.30.0.2"), false, ""}));
  EXPECT_EQ(routes[1], (Route{P("10.244.2.0/24"), Ip("192.168.9.9"), false, ""}));
  FakeNetworkDriver driver;
  driver.routes[P("10.244.0.0/16")] = Route{P("10.244.0.0/16"), 0, true, ""};
  ASSERT_TRUE(ApplyPeerRoutes(driver, routes, P("10.244.0.0/16")).ok());
  EXPECT_EQ(driver.routes.size(), 3u);
  int writes = driver.route_writes;
  ASSERT_TRUE(ApplyPeerRoutes(driver, routes, P("10.244.0.0/16")).ok());
  EXPECT_EQ(driver.route_writes, writes);  // nothing changed: nothing written
  ASSERT_TRUE(ApplyPeerRoutes(driver, PeerRoutes({&a, &b}, "a", P("10.244.0.0/16")), P("10.244.0.0/16")).ok());
  EXPECT_EQ(driver.routes.count(P("10.244.2.0/24")), 0u);
  EXPECT_EQ(driver.routes.count(P("10.244.0.0/16")), 1u);  // the unreachable catch-all stays
}

TEST(PodDnsFiles, NamesTheFieldsOnlyThePodNetworkApplies) {
  json::Value plain = *json::Parse(R"({"metadata":{"name":"p"},"spec":{"dnsConfig":{}}})");
  EXPECT_TRUE(FieldsOnlyThePodNetworkApplies(plain).empty());
  json::Value both = *json::Parse(R"({"metadata":{"name":"p"},"spec":{"dnsConfig":{"searches":["a.example"]},
      "hostAliases":[{"ip":"10.1.2.3","hostnames":["db"]}]}})");
  EXPECT_EQ(FieldsOnlyThePodNetworkApplies(both), (std::vector<std::string>{"spec.dnsConfig", "spec.hostAliases"}));
  // On the host's network the node's files are used on any agent: nothing is owed.
  json::Value host = *json::Parse(R"({"metadata":{"name":"p"},"spec":{"hostNetwork":true,
      "hostAliases":[{"ip":"10.1.2.3","hostnames":["db"]}]}})");
  EXPECT_TRUE(FieldsOnlyThePodNetworkApplies(host).empty());
}

TEST(PodDnsFiles, ResolvConfFollowsDnsPolicy) {
  DnsSettings s{"10.96.0.10", "cluster.local", "nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"};
  json::Value pod = *json::Parse(R"({"metadata":{"name":"p","namespace":"shop"},"spec":{}})");
  EXPECT_EQ(*PodResolvConf(pod, s, false),
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n");
  // hostNetwork: ClusterFirst means the node's, unless ClusterFirstWithHostNet.
  EXPECT_EQ(*PodResolvConf(pod, s, true), "search corp.example\nnameserver 192.0.2.53\noptions edns0\n");
  json::Value with_host = *json::Parse(R"({"metadata":{"name":"p","namespace":"shop"},"spec":{"dnsPolicy":"ClusterFirstWithHostNet"}})");
  EXPECT_NE(PodResolvConf(with_host, s, true)->find("nameserver 10.96.0.10"), std::string::npos);
  json::Value none = *json::Parse(R"({"metadata":{"name":"p"},"spec":{"dnsPolicy":"None","dnsConfig":{
      "nameservers":["1.2.3.4"],"searches":["a.example"],"options":[{"name":"ndots","value":"2"},{"name":"edns0"}]}}})");
  EXPECT_EQ(*PodResolvConf(none, s, false), "search a.example\nnameserver 1.2.3.4\noptions ndots:2 edns0\n");
  json::Value none_empty = *json::Parse(R"({"metadata":{"name":"p"},"spec":{"dnsPolicy":"None"}})");
  EXPECT_FALSE(PodResolvConf(none_empty, s, false).ok());
  json::Value merged = *json::Parse(R"({"metadata":{"name":"p","namespace":"x"},"spec":{"dnsConfig":{"options":[{"name":"ndots","value":"1"}]}}})");
  EXPECT_NE(PodResolvConf(merged, s, false)->find("options ndots:1\n"), std::string::npos);
  // No cluster DNS configured: the node's file, as the kubelet falls back.
  EXPECT_EQ(*PodResolvConf(pod, DnsSettings{"", "cluster.local", "nameserver 192.0.2.53\n"}, false), "nameserver 192.0.2.53\n");
}

TEST(PodDnsFiles, HostsNameThePodAndItsAliases) {
  json::Value pod = *json::Parse(R"({"metadata":{"name":"web-0","namespace":"shop"},"spec":{"hostname":"w0","subdomain":"web",
      "hostAliases":[{"ip":"10.1.2.3","hostnames":["foo.local","bar.local"]}]}})");
  std::string hosts = PodHostsFile(pod, "10.244.1.7", "cluster.local");
  EXPECT_NE(hosts.find("127.0.0.1\tlocalhost\n"), std::string::npos);
  EXPECT_NE(hosts.find("10.244.1.7\tw0.web.shop.svc.cluster.local\tw0\n"), std::string::npos);
  EXPECT_NE(hosts.find("# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n"), std::string::npos);
  json::Value plain = *json::Parse(R"({"metadata":{"name":"p"},"spec":{}})");
  EXPECT_NE(PodHostsFile(plain, "10.244.1.8", "cluster.local").find("10.244.1.8\tp\n"), std::string::npos);
  EXPECT_EQ(PodHostname(plain), "p");
}

}  // namespace
}  // namespace berth::agent::network

namespace berth::agent::network {
namespace {

TEST(ServiceRules, ReadyEndpointsFirstThenTerminatingThenReject) {
  json::Value web = *json::Parse(R"({"metadata":{"name":"web","namespace":"default"},"spec":{"type":"NodePort","clusterIP":"10.96.0.37",
      "sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},
      "ports":[{"name":"http","protocol":"TCP","port":80,"nodePort":30080}]}})");
  json::Value empty = *json::Parse(R"({"metadata":{"name":"none","namespace":"default"},"spec":{"clusterIP":"10.96.0.38",
      "ports":[{"name":"","protocol":"TCP","port":80}]}})");
  json::Value headless = *json::Parse(R"({"metadata":{"name":"db","namespace":"default"},"spec":{"clusterIP":"None","ports":[{"port":5432}]}})");
  json::Value slice = *json::Parse(R"({"metadata":{"namespace":"default","labels":{"kubernetes.io/service-name":"web"}},
      "addressType":"IPv4","ports":[{"name":"http","protocol":"TCP","port":8080}],"endpoints":[
      {"addresses":["10.244.0.3"],"conditions":{"ready":true,"serving":true,"terminating":false}},
      {"addresses":["10.244.1.2"],"conditions":{"ready":true,"serving":true,"terminating":false}},
      {"addresses":["10.244.0.9"],"conditions":{"ready":false,"serving":true,"terminating":true}}]})");
  auto rules = ServicePortRules({&web, &empty, &headless}, {&slice});
  ASSERT_EQ(rules.size(), 2u);  // the headless Service gets no rules
  const ServicePortRule& none = rules[0];
  const ServicePortRule& r = rules[1];
  EXPECT_EQ(r.name, "default/web/tcp/http");
  EXPECT_EQ(r.endpoints, (std::vector<std::pair<std::string, int>>{{"10.244.0.3", 8080}, {"10.244.1.2", 8080}}));
  EXPECT_EQ(r.node_port, 30080);
  EXPECT_EQ(r.affinity_seconds, 60);
  EXPECT_TRUE(none.endpoints.empty());
  // Only a terminating endpoint left: it still serves (KEP-1669).
  json::Value terminating_only = slice;
  terminating_only["endpoints"].as_array().erase(terminating_only["endpoints"].as_array().begin(),
                                                  terminating_only["endpoints"].as_array().begin() + 2);
  EXPECT_EQ(ServicePortRules({&web}, {&terminating_only})[0].endpoints,
            (std::vector<std::pair<std::string, int>>{{"10.244.0.9", 8080}}));

  std::string script = ServiceTableScript(rules, {});
  EXPECT_EQ(script.rfind("table ip berth {}\ndelete table ip berth\ntable ip berth {\n", 0), 0u);
  const std::string chain = "service-" + r.chain_id;
  EXPECT_NE(script.find("10.96.0.37 . tcp . 80 : goto " + chain), std::string::npos);
  EXPECT_NE(script.find("10.96.0.38 . tcp . 80 : goto reject-chain"), std::string::npos);
  EXPECT_NE(script.find("tcp . 30080 : goto external-" + r.chain_id), std::string::npos);
  EXPECT_NE(script.find("numgen random mod 2 vmap { 0 : goto endpoint-" + r.chain_id + "-"), std::string::npos);
  EXPECT_NE(script.find("ip saddr 10.244.0.3 jump mark-for-masquerade\n"), std::string::npos);  // hairpin
  EXPECT_NE(script.find("meta l4proto tcp dnat to 10.244.1.2:8080"), std::string::npos);
  EXPECT_NE(script.find("timeout 60s"), std::string::npos);
  EXPECT_NE(script.find("update @affinity-" + r.chain_id + "-"), std::string::npos);
  EXPECT_NE(script.find("ip daddr 10.96.0.0/12 fib daddr type != local goto reject-chain"), std::string::npos);
  EXPECT_EQ(script, ServiceTableScript(ServicePortRules({&headless, &empty, &web}, {&slice}), {}));  // order-independent

  // An incremental sync touches only what changed: one endpoint gone from web.
  ServiceTable before = BuildServiceTable(rules, {});
  json::Value fewer = slice;
  fewer["endpoints"].as_array().erase(fewer["endpoints"].as_array().begin() + 1);
  ServiceTable after = BuildServiceTable(ServicePortRules({&web, &empty, &headless}, {&fewer}), {});
  std::string delta = IncrementalTableScript(before, after);
  EXPECT_NE(delta.find("flush chain ip berth service-" + r.chain_id + "\n"), std::string::npos);
  EXPECT_NE(delta.find("add rule ip berth service-" + r.chain_id + " numgen random mod 1 vmap"), std::string::npos);
  EXPECT_NE(delta.find("delete chain ip berth endpoint-" + r.chain_id + "-"), std::string::npos);
  EXPECT_NE(delta.find("delete set ip berth affinity-" + r.chain_id + "-"), std::string::npos);
  EXPECT_EQ(delta.find("10.96.0.38"), std::string::npos);  // the unchanged Service is not mentioned
  EXPECT_EQ(delta.find("add chain"), std::string::npos);    // the remaining endpoint keeps its chain
  EXPECT_EQ(IncrementalTableScript(after, after), "");
  // The Service losing its last endpoint moves to the reject map.
  json::Value none_left = slice;
  none_left["endpoints"].as_array().clear();
  std::string emptied = IncrementalTableScript(before, BuildServiceTable(ServicePortRules({&web}, {&none_left}), {}));
  EXPECT_NE(emptied.find("delete element ip berth service-ips { 10.96.0.37 . tcp . 80 : goto service-" + r.chain_id + " }"),
            std::string::npos);
  EXPECT_NE(emptied.find("add element ip berth no-endpoint-services { 10.96.0.37 . tcp . 80 : goto reject-chain }"),
            std::string::npos);
}

}  // namespace
}  // namespace berth::agent::network

namespace berth::agent::network::dns {
namespace {

struct Parsed {
  int rcode = -1;
  bool truncated = false;
  int answers = 0, authority = 0;
};
Parsed Header(const std::string& r) {
  Parsed p;
  p.rcode = r[3] & 0xf;
  p.truncated = r[2] & 0x02;
  p.answers = static_cast<uint8_t>(r[6]) << 8 | static_cast<uint8_t>(r[7]);
  p.authority = static_cast<uint8_t>(r[8]) << 8 | static_cast<uint8_t>(r[9]);
  return p;
}

std::shared_ptr<const ClusterZone> Zone(int headless_endpoints = 2) {
  static json::Value web = *json::Parse(R"({"metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.37",
      "ports":[{"name":"http","protocol":"TCP","port":80}]}})");
  static json::Value db = *json::Parse(R"({"metadata":{"name":"db","namespace":"default"},"spec":{"clusterIP":"None",
      "ports":[{"name":"pg","protocol":"TCP","port":5432}]}})");
  json::Value slice = *json::Parse(R"({"metadata":{"namespace":"default","labels":{"kubernetes.io/service-name":"db"}},
      "addressType":"IPv4","ports":[{"name":"pg","protocol":"TCP","port":5432}],"endpoints":[]})");
  for (int i = 0; i < headless_endpoints; ++i) {
    json::Value e = *json::Parse(absl::StrCat(R"({"addresses":["10.244.0.)", 10 + i, R"("],"conditions":{"ready":true}})"));
    if (i == 0) e.Set("hostname", "db-0");
    slice["endpoints"].as_array().push_back(e);
  }
  json::Value not_ready = *json::Parse(R"({"addresses":["10.244.0.99"],"conditions":{"ready":false}})");
  slice["endpoints"].as_array().push_back(not_ready);
  return ClusterZone::Build({&web, &db}, {&slice}, "cluster.local");
}

TEST(ClusterDns, AnswersAsTheKubernetesDnsSpecificationSays) {
  auto zone = Zone();
  auto ask = [&](const std::string& name, uint16_t type) { return Header(DnsServer::Respond(zone.get(), QueryPacket(0x1234, name, type), false)); };
  Parsed a = ask("web.default.svc.cluster.local", kA);
  EXPECT_EQ(a.rcode, kNoError);
  EXPECT_EQ(a.answers, 1);
  EXPECT_EQ(ask("WEB.Default.svc.cluster.local", kA).answers, 1);  // names are case-insensitive
  Parsed aaaa = ask("web.default.svc.cluster.local", kAaaa);
  EXPECT_EQ(aaaa.rcode, kNoError);  // NODATA, not NXDOMAIN
  EXPECT_EQ(aaaa.answers, 0);
  EXPECT_EQ(aaaa.authority, 1);     // the SOA
  EXPECT_EQ(ask("db.default.svc.cluster.local", kA).answers, 2);  // ready endpoints only
  EXPECT_EQ(ask("db-0.db.default.svc.cluster.local", kA).answers, 1);
  EXPECT_EQ(ask("_http._tcp.web.default.svc.cluster.local", kSrv).answers, 1);
  EXPECT_EQ(ask("_pg._tcp.db.default.svc.cluster.local", kSrv).answers, 2);
  EXPECT_EQ(ask("_nope._tcp.web.default.svc.cluster.local", kSrv).rcode, kNxDomain);
  EXPECT_EQ(ask("37.0.96.10.in-addr.arpa", kPtr).answers, 1);
  EXPECT_EQ(ask("10.0.244.10.in-addr.arpa", kPtr).answers, 1);     // db-0 has a hostname
  EXPECT_EQ(ask("11.0.244.10.in-addr.arpa", kPtr).rcode, kNxDomain);
  EXPECT_EQ(ask("dns-version.cluster.local", kTxt).answers, 1);
  EXPECT_EQ(ask("10-244-0-5.default.pod.cluster.local", kA).answers, 1);
  EXPECT_EQ(ask("web.other.svc.cluster.local", kA).rcode, kNxDomain);
  EXPECT_EQ(ask("web.default.svc.cluster.local.default.svc.cluster.local", kA).rcode, kNxDomain);  // a search-list miss
  EXPECT_EQ(ask("default.svc.cluster.local", kA).rcode, kNoError);  // a namespace: an existing name
  EXPECT_EQ(ask("example.com", kA).rcode, kRefused);  // nothing is forwarded
  EXPECT_EQ(Header(DnsServer::Respond(Zone(0).get(), QueryPacket(0x1234, "db.default.svc.cluster.local", kA), false)).rcode, kNxDomain);
  // Malformed input gets FORMERR (with the id), never a crash.
  std::string broken = QueryPacket(0x1234, "web.default.svc.cluster.local", kA);
  broken.resize(20);
  std::string r = DnsServer::Respond(zone.get(), broken, false);
  ASSERT_GE(r.size(), 12u);
  EXPECT_EQ(Header(r).rcode, kFormErr);
  EXPECT_EQ(DnsServer::Respond(zone.get(), "abc", false), "");
}

TEST(ClusterDns, LargeUdpAnswersAreTruncated) {
  auto zone = Zone(60);  // 60 A records do not fit 512 bytes
  Parsed udp = Header(DnsServer::Respond(zone.get(), QueryPacket(0x1234, "db.default.svc.cluster.local", kA), false));
  EXPECT_TRUE(udp.truncated);
  EXPECT_EQ(udp.answers, 0);
  Parsed tcp = Header(DnsServer::Respond(zone.get(), QueryPacket(0x1234, "db.default.svc.cluster.local", kA), true));
  EXPECT_FALSE(tcp.truncated);
  EXPECT_EQ(tcp.answers, 60);
}

}  // namespace
}  // namespace berth::agent::network::dns

#include "kubelet-like-agent/network/network_policy.h"

namespace berth::agent::network {
namespace {

TEST(NetworkPolicy, IsolatesSelectedPodsAndAllowsWhatRulesName) {
  auto pod = [](const std::string& name, const std::string& ns, const std::string& ip, const std::string& node,
                const std::string& labels) {
    return *json::Parse(absl::StrCat(R"({"metadata":{"name":")", name, R"(","namespace":")", ns, R"(","labels":)", labels,
                                     R"(},"spec":{"nodeName":")", node,
                                     R"(","containers":[{"name":"c","ports":[{"name":"http","containerPort":8080}]}]},"status":{"podIP":")",
                                     ip, R"("}})"));
  };
  json::Value db = pod("db", "shop", "10.244.0.5", "n1", R"({"app":"db"})");
  json::Value api = pod("api", "shop", "10.244.1.7", "n2", R"({"role":"api"})");
  json::Value web = pod("web", "shop", "10.244.0.6", "n1", R"({"role":"web"})");
  json::Value ops = pod("ops", "tools", "10.244.1.9", "n2", R"({"role":"api"})");
  json::Value shop = *json::Parse(R"({"metadata":{"name":"shop"}})");
  json::Value tools = *json::Parse(R"({"metadata":{"name":"tools","labels":{"team":"ops"}}})");
  json::Value policy = *json::Parse(R"({"metadata":{"name":"db","namespace":"shop"},"spec":{
      "podSelector":{"matchLabels":{"app":"db"}},"policyTypes":["Ingress"],
      "ingress":[{"from":[{"podSelector":{"matchLabels":{"role":"api"}}},
                          {"namespaceSelector":{"matchLabels":{"team":"ops"}}},
                          {"ipBlock":{"cidr":"192.168.0.0/16","except":["192.168.1.0/24"]}}],
                  "ports":[{"port":"http"},{"protocol":"UDP","port":5000,"endPort":5010}]}]}})");
  std::string script = PolicyTableScript({&policy}, {&db, &api, &web, &ops}, {&shop, &tools}, "n1");
  EXPECT_NE(script.find("ip daddr 10.244.0.5 jump ingress-10-244-0-5"), std::string::npos);
  EXPECT_EQ(script.find("ingress-10-244-0-6"), std::string::npos);  // web is not selected
  EXPECT_NE(script.find("ip saddr { 10.244.1.7 } tcp dport { 8080 } return"), std::string::npos);  // same namespace only
  EXPECT_NE(script.find("ip saddr { 10.244.1.9 } udp dport 5000-5010 return"), std::string::npos);  // by namespace labels
  EXPECT_NE(script.find("ip saddr 192.168.0.0/16 ip saddr != { 192.168.1.0/24 } tcp dport { 8080 } return"), std::string::npos);
  EXPECT_NE(script.find("    drop\n"), std::string::npos);
  EXPECT_NE(script.find("ct state established,related accept"), std::string::npos);
  // On the other node, nothing of db's is programmed.
  EXPECT_EQ(PolicyTableScript({&policy}, {&db, &api, &web, &ops}, {&shop, &tools}, "n2").find("jump"), std::string::npos);
  // Default deny egress: an empty rule list isolates.
  json::Value deny = *json::Parse(R"({"metadata":{"name":"deny","namespace":"shop"},"spec":{"podSelector":{},"policyTypes":["Egress"]}})");
  std::string denied = PolicyTableScript({&deny}, {&db, &web}, {&shop}, "n1");
  EXPECT_NE(denied.find("chain egress-10-244-0-5 {\n    drop\n  }"), std::string::npos);
  EXPECT_NE(denied.find("chain egress-10-244-0-6 {\n    drop\n  }"), std::string::npos);
  // No policy, no isolation: the table is the same whatever pods there are, which lets the
  // agent skip listing them (NodeNetwork::SyncPolicies).
  EXPECT_EQ(PolicyTableScript({}, {&db, &api, &web, &ops}, {&shop, &tools}, "n1"), PolicyTableScript({}, {}, {&shop, &tools}, "n1"));
}

}  // namespace
}  // namespace berth::agent::network

namespace berth::agent::network {
namespace {

TEST(ServiceRules, IncrementalRemovalFlushesEveryChainBeforeDeletingAny) {
  ServicePortRule r;
  r.name = "default/web/tcp/http";
  r.chain_id = "AAAA";
  r.cluster_ip = "10.96.0.5";
  r.protocol = "tcp";
  r.port = 80;
  r.node_port = 30080;
  r.endpoints = {{"10.244.0.2", 8080}, {"10.244.0.3", 8080}};
  ServiceTable with = BuildServiceTable({r}, {});
  r.endpoints.clear();
  std::string delta = IncrementalTableScript(with, BuildServiceTable({r}, {}));
  size_t last_flush = delta.rfind("flush chain"), first_delete = delta.find("delete chain");
  ASSERT_NE(first_delete, std::string::npos);
  EXPECT_LT(last_flush, first_delete) << delta;
}

}  // namespace
}  // namespace berth::agent::network
