// berth-network-bench MODE [N]: the pod network's costs, each next to a reference measured in
// the same run, inside a network namespace this process makes for itself (nothing leaves it).
//   rules N  B2: programming the Service table with N Services x 3 endpoints through libnftables
//            as the agent does: the first load (whole table), then 50 single Service changes as
//            incremental transactions (p50/p99, computing the table included); reference: `nft -f`
//            exec of the same kind of change.
//   pods N   B4: pod network set-up + teardown per pod (PodNetwork over NetlinkDriver: netns,
//            veth, address, routes, IPAM files); reference: the same wiring with `ip` execs.
//   path N [ROUNDS]  B1: new connections/s (wrk -t1 -c8 -d3s, Connection: close) from a pod to an
//            nginx pod through a ClusterIP with N Services programmed, against the backend's IP
//            directly; fresh pods per measurement, medians of ROUNDS (5) alternating pairs.
//   dns N    B5: UDP queries/s and p99 of the cluster DNS responder with N Services, next to
//            dnsmasq answering the same names from a hosts file (same load generator).
// Prints one JSON object.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/json/codec.h"
#include "kubelet-like-agent/network/dns/dns_server.h"
#include "kubelet-like-agent/network/netlink_driver.h"
#include "kubelet-like-agent/network/pod_network.h"
#include "kubelet-like-agent/network/service_rules.h"

using namespace berth::agent::network;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int Run(const std::string& command) { return std::system(command.c_str()); }

std::vector<ServicePortRule> Services(int n, int generation_of_first) {
  std::vector<ServicePortRule> rules;
  for (int i = 0; i < n; ++i) {
    ServicePortRule r;
    r.name = absl::StrCat("default/svc-", i, "/tcp/http");
    r.chain_id = absl::StrCat("S", i);
    r.cluster_ip = absl::StrCat("10.96.", i / 250, ".", i % 250 + 2);
    r.protocol = "tcp";
    r.port = 80;
    for (int e = 0; e < 3; ++e) r.endpoints.push_back({absl::StrCat("10.244.", (i * 3 + e) / 250, ".", (i * 3 + e) % 250 + 2), 8080});
    if (i == 0) r.endpoints[0].second = 8080 + generation_of_first;  // the one Service that changes
    rules.push_back(std::move(r));
  }
  return rules;
}

void Rules(int n) {
  auto driver = NetlinkDriver::Create("");
  if (!driver.ok()) {
    std::fprintf(stderr, "%s\n", driver.status().ToString().c_str());
    std::exit(1);
  }
  auto t0 = Clock::now();
  absl::Status s = (*driver)->ApplyNftables(ServiceTableScript(Services(n, 0), {}));
  double first = Ms(Clock::now() - t0);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
  std::vector<double> changes, reference;
  const std::string file = "/tmp/berth-network-bench.nft";
  ServiceTable programmed = BuildServiceTable(Services(n, 0), {});
  for (int k = 1; k <= 50; ++k) {
    // As the agent does it: the table computed from the state, then only the difference.
    auto t = Clock::now();
    ServiceTable desired = BuildServiceTable(Services(n, k), {});
    absl::Status applied = (*driver)->ApplyNftables(IncrementalTableScript(programmed, desired));
    changes.push_back(Ms(Clock::now() - t));
    if (!applied.ok()) {
      std::fprintf(stderr, "incremental change %d: %s\n", k, applied.ToString().c_str());
      std::exit(1);
    }
    programmed = std::move(desired);
    // Reference: the same kind of partial transaction through an exec of nft (kube-proxy's way).
    ServiceTable next = BuildServiceTable(Services(n, k + 1000), {});
    std::ofstream(file) << IncrementalTableScript(programmed, next);
    t = Clock::now();
    Run(absl::StrCat("nft -f ", file));
    reference.push_back(Ms(Clock::now() - t));
    programmed = std::move(next);
  }
  fs::remove(file);
  std::printf("{\"services\": %d, \"first_load_ms\": %.1f, \"change_p50_ms\": %.1f, \"change_p99_ms\": %.1f, "
              "\"nft_exec_p50_ms\": %.1f, \"nft_exec_p99_ms\": %.1f}\n",
              n, first, Percentile(changes, 0.5), Percentile(changes, 0.99), Percentile(reference, 0.5), Percentile(reference, 0.99));
}

void Pods(int n) {
  auto driver = NetlinkDriver::Create("");
  if (!driver.ok()) std::exit(1);
  std::string dir = "/tmp/berth-network-bench-pods";
  fs::remove_all(dir);
  PodNetworkOptions options;
  options.netns_dir = dir + "/netns";
  options.ipam_dir = dir + "/ipam";
  PodNetwork network(**driver, options);
  if (!network.SetPodCidr(*berth::net::ParseIpv4Prefix("10.244.0.0/24")).ok()) std::exit(1);
  // The namespace alone (its share of the set-up).
  std::vector<double> netns_times;
  for (int i = 0; i < 20; ++i) {
    std::string path = absl::StrCat(options.netns_dir, "/probe-", i);
    auto t = Clock::now();
    (void)(*driver)->CreateNetns(path);
    netns_times.push_back(Ms(Clock::now() - t));
    (void)(*driver)->DeleteNetns(path);
  }
  std::vector<double> ours, setups, reference;
  // Each pod is wired from scratch here: the pool of spare sandboxes is measured below.
  for (int i = 0; i < n; ++i) {
    std::string uid = absl::StrCat("00000000-0000-0000-0000-", 100000000000 + i);
    auto t = Clock::now();
    auto sandbox = network.SetUp(uid, false);
    setups.push_back(Ms(Clock::now() - t));
    absl::Status down = network.TearDown(uid);
    ours.push_back(Ms(Clock::now() - t));
    if (!sandbox.ok() || !down.ok()) {
      std::fprintf(stderr, "%s %s\n", sandbox.status().ToString().c_str(), down.ToString().c_str());
      std::exit(1);
    }
    // The same wiring with iproute2, one exec per step.
    t = Clock::now();
    Run("ip netns add bnb-ref && ip link add vref type veth peer name eth0 netns bnb-ref && ip link set vref master berth0 "
        "&& ip link set vref up && ip -n bnb-ref addr add 10.244.0.200/24 dev eth0 && ip -n bnb-ref link set eth0 up "
        "&& ip -n bnb-ref link set lo up && ip -n bnb-ref route add default via 10.244.0.1 && ip link del vref && ip netns del bnb-ref");
    reference.push_back(Ms(Clock::now() - t));
  }
  // The same set-up taking a spare sandbox, as the agent does by default (--pod-network-spares):
  // each pod arrives once the pool is full again, as pods arriving slower than the refill do.
  std::vector<double> warm;
  {
    PodNetworkOptions spared = options;
    spared.spares = 2;
    PodNetwork pooled(**driver, spared);
    if (!pooled.SetPodCidr(*berth::net::ParseIpv4Prefix("10.244.0.0/24")).ok()) std::exit(1);
    for (int i = 0; i < n; ++i) {
      auto deadline = Clock::now() + std::chrono::seconds(10);
      while (pooled.SparesReady() < 2 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::string uid = absl::StrCat("00000000-0000-0000-0000-", 200000000000 + i);
      auto t = Clock::now();
      auto sandbox = pooled.SetUp(uid, false);
      warm.push_back(Ms(Clock::now() - t));
      if (!sandbox.ok() || !pooled.TearDown(uid).ok()) {
        std::fprintf(stderr, "with spares: %s\n", sandbox.status().ToString().c_str());
        std::exit(1);
      }
    }
    if (pooled.spares_taken() != static_cast<uint64_t>(n)) {
      std::fprintf(stderr, "only %llu of %d pods took a spare\n", static_cast<unsigned long long>(pooled.spares_taken()), n);
      std::exit(1);
    }
  }
  fs::remove_all(dir);
  std::printf("{\"netns_create_p50_ms\": %.2f, \"setup_p50_ms\": %.2f, \"setup_p99_ms\": %.2f, ", Percentile(netns_times, 0.5),
              Percentile(setups, 0.5), Percentile(setups, 0.99));
  std::printf("\"setup_spare_p50_ms\": %.2f, \"setup_spare_p99_ms\": %.2f, ", Percentile(warm, 0.5), Percentile(warm, 0.99));
  std::printf("\"pods\": %d, \"setup_teardown_p50_ms\": %.2f, \"setup_teardown_p99_ms\": %.2f, \"ip_exec_p50_ms\": %.2f, "
              "\"ratio_ours_to_ip\": %.3f}\n",
              n, Percentile(ours, 0.5), Percentile(ours, 0.99), Percentile(reference, 0.5), Percentile(ours, 0.5) / Percentile(reference, 0.5));
}

// Forks `argv` into the network namespace pinned at `netns` and returns its pid.
pid_t SpawnIn(const std::string& netns, const std::vector<std::string>& argv, const std::string& out_file = "/dev/null") {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(netns.c_str(), O_RDONLY);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(126);
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) dup2(out, 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

double Wrk(const std::string& client_netns, const std::string& url) {
  const std::string out = "/tmp/berth-network-bench.wrk";
  pid_t pid = SpawnIn(client_netns, {"wrk", "-t1", "-c8", "-d3s", "-H", "Connection: close", url}, out);
  waitpid(pid, nullptr, 0);
  std::ifstream in(out);
  std::string line;
  double rate = 0;
  while (std::getline(in, line)) {
    if (line.rfind("Requests/sec:", 0) == 0) rate = std::atof(line.substr(13).c_str());
    if (std::getenv("BENCH_VERBOSE")) std::fprintf(stderr, "%s\n", line.c_str());
  }
  fs::remove(out);
  return rate;
}

void Path(int n, int rounds) {
  auto driver = NetlinkDriver::Create("");
  if (!driver.ok()) std::exit(1);
  std::string dir = "/tmp/berth-network-bench-path";
  fs::remove_all(dir);
  fs::create_directories(dir);
  PodNetworkOptions options;
  options.netns_dir = dir + "/netns";
  options.ipam_dir = dir + "/ipam";
  PodNetwork network(**driver, options);
  if (!network.SetPodCidr(*berth::net::ParseIpv4Prefix("10.244.0.0/24")).ok()) std::exit(1);
  std::ofstream(dir + "/nginx.conf") << "worker_processes 1; daemon off; pid " << dir << "/nginx.pid; error_log /dev/null;\n"
                                        "events { worker_connections 4096; }\n"
                                        "http { access_log off; server { listen 80; location / { return 200 \"ok\"; } } }\n";
  // Each measurement gets fresh pods (new namespaces and addresses): connection state of an
  // earlier run (TIME_WAIT sockets, conntrack entries with the same reply tuple) would
  // otherwise stall new connections, by up to 5x (networking brief F12).
  auto measure = [&](int run, bool through_service) {
    auto client = network.SetUp(absl::StrCat("client-", run), false);
    auto backend = network.SetUp(absl::StrCat("backend-", run), false);
    if (!client.ok() || !backend.ok()) std::exit(1);
    // N Services; the last one fronts this run's nginx pod.
    std::vector<ServicePortRule> rules = Services(n - 1, 0);
    ServicePortRule web;
    web.name = "default/web/tcp/http";
    web.chain_id = "WEB";
    web.cluster_ip = "10.96.200.1";
    web.protocol = "tcp";
    web.port = 80;
    web.endpoints = {{backend->ip, 80}};
    rules.push_back(web);
    if (!(*driver)->ApplyNftables(ServiceTableScript(rules, {})).ok()) std::exit(1);
    pid_t nginx = SpawnIn(backend->netns_path, {"nginx", "-c", dir + "/nginx.conf"});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    double rate = Wrk(client->netns_path, through_service ? "http://10.96.200.1/" : absl::StrCat("http://", backend->ip, "/"));
    kill(nginx, SIGTERM);
    waitpid(nginx, nullptr, 0);
    (void)network.TearDown(absl::StrCat("client-", run));
    (void)network.TearDown(absl::StrCat("backend-", run));
    return rate;
  };
  std::vector<double> direct, cluster_ip;
  for (int round = 0; round < rounds; ++round) {
    direct.push_back(measure(2 * round, false));
    cluster_ip.push_back(measure(2 * round + 1, true));
  }
  fs::remove_all(dir);
  double d = Percentile(direct, 0.5), c = Percentile(cluster_ip, 0.5);
  std::printf("{\"services\": %d, \"direct_conn_per_s\": %.0f, \"cluster_ip_conn_per_s\": %.0f, \"ratio\": %.3f}\n", n, d, c,
              d > 0 ? c / d : 0);
}

// One load generator for both servers: `clients` sockets, each with one query in flight.
std::pair<double, double> Load(uint32_t server, uint16_t port, int services, double seconds) {
  const int clients = 8;
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<uint64_t> counts(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      int fd = socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port);
      sa.sin_addr.s_addr = htonl(server);
      connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
      uint16_t id = 0;
      char buf[1024];
      while (!stop) {
        int i = static_cast<int>((counts[c] * 7919 + c) % services);
        std::string name = absl::StrCat("svc-", i, ".default.svc.cluster.local");
        std::string q = {static_cast<char>(id >> 8), static_cast<char>(id & 255), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
        q += berth::agent::network::dns::EncodeName(name);
        q += {0, 1, 0, 1};
        auto t = Clock::now();
        send(fd, q.data(), q.size(), 0);
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0 && recv(fd, buf, sizeof buf, 0) > 0) {
          latencies[c].push_back(Ms(Clock::now() - t));
          ++counts[c];
        }
        ++id;
      }
      close(fd);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  std::vector<double> all;
  uint64_t total = 0;
  for (int c = 0; c < clients; ++c) {
    all.insert(all.end(), latencies[c].begin(), latencies[c].end());
    total += counts[c];
  }
  return {static_cast<double>(total) / seconds, Percentile(all, 0.99)};
}

void Dns(int n) {
  Run("ip link set lo up");
  std::vector<berth::json::Value> services;
  std::string hosts;
  for (int i = 0; i < n; ++i) {
    std::string ip = absl::StrCat("10.96.", i / 250, ".", i % 250 + 2);
    services.push_back(*berth::json::Parse(absl::StrCat(R"({"metadata":{"name":"svc-)", i,
                                                        R"(","namespace":"default"},"spec":{"clusterIP":")", ip,
                                                        R"(","ports":[{"name":"http","port":80}]}})")));
    hosts += absl::StrCat(ip, " svc-", i, ".default.svc.cluster.local\n");
  }
  std::vector<const berth::json::Value*> raw;
  for (const auto& s : services) raw.push_back(&s);
  auto server = dns::DnsServer::Start([](int domain, int type) -> absl::StatusOr<int> { return socket(domain, type | SOCK_CLOEXEC, 0); },
                                      0x7f000001, 53, {}, berth::RealClock::Get());
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    std::exit(1);
  }
  (*server)->SetZone(dns::ClusterZone::Build(raw, {}, "cluster.local"));
  auto ours = Load(0x7f000001, 53, n, 3.0);
  std::ofstream("/tmp/berth-network-bench.hosts") << hosts;
  pid_t pid = fork();
  if (pid == 0) {
    execlp("dnsmasq", "dnsmasq", "--keep-in-foreground", "--port=5353", "--listen-address=127.0.0.1", "--bind-interfaces",
           "--no-resolv", "--no-hosts", "--addn-hosts=/tmp/berth-network-bench.hosts", "--cache-size=10000", "--user=root",
           static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto ref = Load(0x7f000001, 5353, n, 3.0);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  fs::remove("/tmp/berth-network-bench.hosts");
  std::printf("{\"services\": %d, \"berth_qps\": %.0f, \"berth_p99_ms\": %.3f, \"dnsmasq_qps\": %.0f, \"dnsmasq_p99_ms\": %.3f, "
              "\"qps_ratio\": %.3f}\n",
              n, ours.first, ours.second, ref.first, ref.second, ours.first / std::max(1.0, ref.first));
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "rules";
  int n = argc > 2 ? std::atoi(argv[2]) : 1000;
  // A network namespace of our own (and a mount namespace, for pinned pod namespaces): every
  // address, route and table here disappears with the process.
  if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("unshare");
    return 1;
  }
  // `ip netns` needs /run/netns writable in this mount namespace without touching the host's.
  fs::create_directories("/run/netns");
  mount("tmpfs", "/run/netns", "tmpfs", 0, nullptr);
  if (mode == "rules") Rules(n);
  else if (mode == "pods") Pods(n);
  else if (mode == "dns") Dns(n);
  else if (mode == "path") Path(n, argc > 3 ? std::atoi(argv[3]) : 5);
  else {
    std::fprintf(stderr, "usage: berth-network-bench rules|pods|path|dns [N]\n");
    return 2;
  }
  return 0;
}
