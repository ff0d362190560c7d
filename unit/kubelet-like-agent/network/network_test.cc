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
  EXPECT_EQ(driver.nft_scripts.back().find("dnat"), std::string::npos);  // its hostPort went with it
  EXPECT_TRUE(network.TearDown("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").ok());  // idempotent
}

TEST(NodeTable, DropsOrMasqueradesEgressBeyondTheClusterRanges) {
  PodNetworkOptions options;
  std::string drop = NodeTableScript(options, "10.244.3.0/24", {});
  EXPECT_NE(drop.find("iifname \"berth0\" ip daddr { 10.244.0.0/16, 10.96.0.0/12 } accept"), std::string::npos);
  EXPECT_NE(drop.find("iifname \"berth0\" drop"), std::string::npos);
  EXPECT_EQ(drop.find("masquerade"), std::string::npos);
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

TEST(PodDnsFiles, ResolvConfFollowsDnsPolicy) {
  DnsSettings s{"10.96.0.10", "cluster.local", "nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"};
  json::Value pod = *json::Parse(R"({"metadata":{"name":"p","namespace":"shop"},"spec":{}})");
  EXPECT_EQ(*PodResolvConf(pod, s, false),
            "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n");
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
