// berth-agent --server URL --node-name NAME --root-dir DIR [--runtime=linux|fake]
//
// Registers the node, renews its Lease, runs the pods bound to it and reports their status.
// SIGTERM stops the agent and leaves its containers running (the next start re-adopts them);
// with --drain the containers are stopped first. With --runtime=fake --hollow-nodes N it runs
// N simulated nodes (no processes) for scale tests.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/client/system_trust.h"
#include "absl/flags/flag.h"
#include "core/http/http.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"
#include "core/flags/dashed_flags.h"
#include "core/log/log.h"
#include "core/resource/quantity.h"
#include "core/strings/strings.h"
#include "core/time/periodic.h"
#include "kubelet-like-agent/images/image_cli.h"
#include "kubelet-like-agent/images/image_manager.h"
#include "kubelet-like-agent/logs/log_server.h"
#include "kubelet-like-agent/security/client_cert_rotation.h"
#include "kubelet-like-agent/security/tls_bootstrap.h"
#include "kubelet-like-agent/security/serving_certificate.h"
#include "kubelet-like-agent/network/node_network.h"
#include "kubelet-like-agent/network/node_routes.h"
#include "kubelet-like-agent/probes/prober.h"
#include "kubelet-like-agent/node/heartbeat.h"
#include "kubelet-like-agent/runtime/fake/fake_runtime.h"
#include "kubelet-like-agent/runtime/linux/linux_runtime.h"
#include "kubelet-like-agent/status/status_manager.h"
#include "kubelet-like-agent/sync/pod_sync.h"
#include "kubelet-like-agent/volumes/volume_manager.h"

ABSL_FLAG(std::string, server, "", "API server URL; overrides the server of --kubeconfig");
ABSL_FLAG(std::string, kubeconfig, "",
          "kubeconfig with the server, the CA to trust and this component's credentials (client certificate or token)");
ABSL_FLAG(std::string, node_name, "", "the Node to register (default: the host name)");
ABSL_FLAG(std::string, root_dir, "/var/lib/berth-agent", "state: checkpoints, pod sandboxes, logs, images");
ABSL_FLAG(std::string, runtime, "linux", "linux (namespaces + cgroups) or fake (no processes)");
ABSL_FLAG(double, event_qps, 10, "Events posted per second at most (0: no Events), as the kubelet's --event-qps");
ABSL_FLAG(int, event_burst, 10, "Events posted at once before event-qps applies, as the kubelet's --event-burst");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "HOST:PORT for the agent's endpoint (logs); port 0 picks one");
ABSL_FLAG(std::string, bootstrap_kubeconfig, "",
          "kubeconfig with a bootstrap token: when --kubeconfig does not exist, the agent gets its client certificate "
          "through a CertificateSigningRequest and writes --kubeconfig (and --client-ca-file when missing)");
ABSL_FLAG(std::string, client_ca_file, "",
          "serve the agent's endpoint over HTTPS, authenticate callers by client certificates of this CA and authorize "
          "them by SubjectAccessReview (nodes/proxy, nodes/log, ...); required when the apiserver is https");
ABSL_FLAG(std::string, tls_cert_file, "",
          "the endpoint's certificate (default: a self-signed one kept in ROOT_DIR/pki, as the kubelet's)");
ABSL_FLAG(std::string, tls_private_key_file, "", "the key of --tls-cert-file");
ABSL_FLAG(std::string, node_ip, "127.0.0.1", "the node's InternalIP (also the pods' IP: host network)");
ABSL_FLAG(std::string, node_labels, "", "extra node labels: k=v,k2=v2 (set when the Node is registered, as the kubelet)");
ABSL_FLAG(std::string, register_with_taints, "", "taints: key=value:Effect,key2:Effect (set when the Node is registered)");
ABSL_FLAG(std::string, system_reserved_cpu, "0", "CPU kept from pods (allocatable = capacity - this), e.g. 500m");
ABSL_FLAG(std::string, system_reserved_memory, "0", "memory kept from pods, e.g. 512Mi");
ABSL_FLAG(int64_t, max_pods, 110, "pods this node accepts");
ABSL_FLAG(std::string, image_dir, "", "the image store (default: ROOT_DIR/images)");
ABSL_FLAG(std::string, registry_config, "", "registries: mirrors, credentials, CA files, plain-HTTP hosts (YAML; see docs/images.md)");
ABSL_FLAG(int, image_gc_high_threshold, 85, "disk usage percent of the image store's file system that starts image GC");
ABSL_FLAG(int, image_gc_low_threshold, 80, "disk usage percent image GC frees down to");
ABSL_FLAG(int64_t, image_gc_min_age_seconds, 120, "images unused for less than this are not collected");
ABSL_FLAG(int64_t, image_gc_period_seconds, 30, "how often image GC checks the thresholds (and drops leases of removed containers)");
ABSL_FLAG(std::string, container_init, "", "berth-container-init (default: next to this binary)");
ABSL_FLAG(int, hollow_nodes, 0, "with --runtime=fake: simulate this many nodes NAME-0..NAME-(N-1)");
ABSL_FLAG(int, workers, 8, "pods synced in parallel");
ABSL_FLAG(int64_t, lease_interval_ms, 2000, "how often the node Lease is renewed");
ABSL_FLAG(int64_t, pod_pids_limit, 4096, "pids limit of each container");
ABSL_FLAG(bool, rotate_certificates, true,
          "renew the client certificate (a CertificateSigningRequest) before it expires, when the kubeconfig names a "
          "credential file holding the certificate and its key (as --bootstrap-kubeconfig writes it)");
ABSL_FLAG(bool, drain, false, "on SIGTERM, stop every container before exiting");
ABSL_FLAG(std::string, pod_network, "none",
          "none: pods share the node's network; bridge: a namespace and an address from the node's podCIDR per pod");
ABSL_FLAG(std::string, node_netns, "", "with --pod-network=bridge: the node's network namespace (a file); empty: the agent's own");
ABSL_FLAG(std::string, cluster_cidr, "10.244.0.0/16", "the range every node's podCIDR comes from");
ABSL_FLAG(std::string, service_cidr, "10.96.0.0/12", "the Service ClusterIP range (the apiserver's --service-cluster-ip-range)");
ABSL_FLAG(std::string, resolv_conf, "/etc/resolv.conf",
          "the node's resolv.conf: what pods with dnsPolicy Default get, and the nameservers the cluster DNS relays other names to");
ABSL_FLAG(std::string, cluster_dns, "", "the cluster DNS address pods' resolv.conf names (empty: pods use the node's resolv.conf)");
ABSL_FLAG(std::string, cluster_domain, "cluster.local", "the cluster's DNS domain");
ABSL_FLAG(std::string, pod_egress, "drop", "pod traffic beyond the cluster's ranges: drop, or masquerade behind the node");
ABSL_FLAG(int32_t, pod_network_spares, 2,
          "with --pod-network=bridge: pod sandboxes (a namespace with its veth on the bridge) kept ready, so a new pod's "
          "network is a rename, an address and a route; 0: wire every pod from scratch");
ABSL_FLAG(int32_t, spare_container_inits, 2,
          "container inits kept ready (cloned into their PID, UTS and IPC namespaces and cgroup, waiting for a spec), so "
          "a start skips the clone, the init's start-up and the cgroup migration; cgroup v1 only; 0: clone at each start");
ABSL_FLAG(bool, container_init_zygote, true,
          "clone container inits from one berth-container-init kept running (a zygote) instead of exec'ing each: an "
          "exec's static glibc start-up queries the CPU's caches with ~80 cpuid instructions, each a trap on a VM");
ABSL_FLAG(int32_t, spare_container_roots, 2,
          "root file systems kept ready for each of the last few images started (a fresh writable layer with the "
          "image's overlay built over it, mounted nowhere yet), so a start skips making them; 0: build at each start");
ABSL_FLAG(std::string, pod_network_ip, "", "the address other nodes route this node's pods through (default: --node-ip)");
ABSL_FLAG(bool, seccomp_default, false, "RuntimeDefault seccomp for every container that does not ask for Unconfined");

namespace {

using namespace berth;

std::map<std::string, std::string> ParseLabels(const std::string& text) {
  std::map<std::string, std::string> out;
  for (std::string_view kv : Split(text, ',')) {
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    out[std::string(kv.substr(0, eq))] = eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1));
  }
  return out;
}

json::Value ParseTaints(const std::string& text) {
  json::Value taints = json::Value::MakeArray();
  for (std::string_view t : Split(text, ',')) {
    if (t.empty()) continue;
    size_t colon = t.rfind(':');
    std::string_view kv = t.substr(0, colon);
    json::Value taint = json::Value::MakeObject();
    size_t eq = kv.find('=');
    taint.Set("key", std::string(kv.substr(0, eq)));
    if (eq != std::string_view::npos) taint.Set("value", std::string(kv.substr(eq + 1)));
    taint.Set("effect", colon == std::string_view::npos ? "NoSchedule" : std::string(t.substr(colon + 1)));
    taints.as_array().push_back(std::move(taint));
  }
  return taints;
}

std::string SelfDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  return std::filesystem::path(buf).parent_path().string();
}

// host and port of an apiserver URL (https://host:port/..., [v6]:port); nullopt when unreadable.
std::optional<std::pair<std::string, int>> ServerHostPort(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return std::nullopt;
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  int port = url.rfind("https", 0) == 0 ? 443 : 80;
  std::string host = rest;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = std::atoi(rest.c_str() + close + 2);
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = std::atoi(rest.c_str() + colon + 1);
  }
  if (host.empty() || port <= 0 || port > 65535) return std::nullopt;
  return std::make_pair(host, port);
}

}  // namespace

int main(int argc, char** argv) {
  berth::client::DeferSystemTrustLoading();  // first: it sets an environment variable
  if (argc > 1 && std::string(argv[1]) == "image") {
    return agent::images::RunImageCommand(std::vector<std::string>(argv + 2, argv + argc));
  }
  sigset_t set = flags::ParseFlagsAndBlockSignals(
      argc, argv, "berth-agent --server URL --node-name NAME --root-dir DIR [--runtime=linux|fake]");
  std::string node_name = absl::GetFlag(FLAGS_node_name);
  if (node_name.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    node_name = host;
  }
  std::string root = absl::GetFlag(FLAGS_root_dir);
  std::string image_dir = absl::GetFlag(FLAGS_image_dir).empty() ? root + "/images" : absl::GetFlag(FLAGS_image_dir);
  std::error_code ec;
  std::filesystem::create_directories(root + "/pods", ec);
  if (ec) {
    std::fprintf(stderr, "--root-dir %s: %s\n", root.c_str(), ec.message().c_str());
    return 2;
  }
  bool fake = absl::GetFlag(FLAGS_runtime) == "fake";
  if (!fake && absl::GetFlag(FLAGS_runtime) != "linux") {
    std::fprintf(stderr, "--runtime must be linux or fake\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_image_gc_low_threshold) > absl::GetFlag(FLAGS_image_gc_high_threshold) ||
      absl::GetFlag(FLAGS_image_gc_high_threshold) < 0 || absl::GetFlag(FLAGS_image_gc_high_threshold) > 100 ||
      absl::GetFlag(FLAGS_image_gc_low_threshold) < 0) {
    std::fprintf(stderr, "--image-gc-low-threshold must be in [0, --image-gc-high-threshold], the high one in [0, 100]\n");
    return 2;
  }
  agent::SetGrpcProbeHelper(SelfDir() + "/berth-grpc-probe");
  agent::images::RegistryConfig registry_config;
  if (!absl::GetFlag(FLAGS_registry_config).empty()) {
    auto loaded = agent::images::LoadRegistryConfig(absl::GetFlag(FLAGS_registry_config));
    if (!loaded.ok()) {
      std::fprintf(stderr, "--registry-config: %s\n", std::string(loaded.status().message()).c_str());
      return 2;
    }
    registry_config = *std::move(loaded);
  }
  agent::images::ImageStore image_store(image_dir);
  if (absl::Status s = image_store.Open(); !s.ok()) {
    std::fprintf(stderr, "--image-dir: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  agent::images::ImageManagerOptions image_options;
  image_options.gc_high_percent = absl::GetFlag(FLAGS_image_gc_high_threshold);
  image_options.gc_low_percent = absl::GetFlag(FLAGS_image_gc_low_threshold);
  image_options.gc_min_age = absl::Seconds(absl::GetFlag(FLAGS_image_gc_min_age_seconds));
  agent::images::ImageManager image_manager(image_store, registry_config, image_options);
  // Pulls run on the sync workers and wait on the client pool: a few more threads than the
  // API traffic alone needs, so three parallel layer downloads do not starve status updates.
  client::InitializeClientThreads(4);
  if (const std::string bootstrap = absl::GetFlag(FLAGS_bootstrap_kubeconfig); !bootstrap.empty()) {
    if (absl::GetFlag(FLAGS_kubeconfig).empty()) {
      std::fprintf(stderr, "--bootstrap-kubeconfig needs --kubeconfig (the file it writes)\n");
      return 2;
    }
    agent::TlsBootstrapOptions tb{bootstrap, absl::GetFlag(FLAGS_kubeconfig), absl::GetFlag(FLAGS_client_ca_file), node_name};
    if (absl::Status s = agent::RunTlsBootstrap(tb); !s.ok()) {
      std::fprintf(stderr, "TLS bootstrap: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  auto connection = client::ConnectionFromFlags(absl::GetFlag(FLAGS_kubeconfig), absl::GetFlag(FLAGS_server));
  if (!connection.ok()) {
    std::fprintf(stderr, "%s\n", std::string(connection.status().message()).c_str());
    return 2;
  }
  auto api = client::ApiClient::Connect(*connection);
  std::unique_ptr<agent::ClientCertRotator> rotator;
  if (absl::GetFlag(FLAGS_rotate_certificates) && !connection->client_cert_pem.empty()) {
    if (!connection->client_cert_file.empty() && connection->client_cert_file == connection->client_key_file) {
      client::ApiClient* rotating_api = api.get();
      rotator = std::make_unique<agent::ClientCertRotator>(
          connection->client_cert_file, [rotating_api, node_name](const std::function<bool()>& cancelled) {
            return agent::RequestNodeClientCertificate(*rotating_api, node_name, absl::Minutes(5), RealClock::Get(),
                                                       cancelled);
          });
      rotator->Start();
    } else {
      // Replacing a certificate and its key in two files, or inside the kubeconfig, cannot be
      // atomic for a reader: such credentials are left to whoever wrote them (berth up renews
      // its components' at each start).
      BERTH_LOG(Info, "agent", "Client certificate not rotated: the kubeconfig does not name one file holding it and its key",
                "kubeconfig", absl::GetFlag(FLAGS_kubeconfig));
    }
  }

  std::unique_ptr<agent::runtime::Runtime> rt;
  if (fake) {
    rt = std::make_unique<agent::runtime::FakeRuntime>();
  } else {
    auto cgroups = agent::runtime::DetectCgroupDriver("berth-agent-" + node_name);
    if (!cgroups.ok()) {
      std::fprintf(stderr, "cgroups: %s\n", cgroups.status().ToString().c_str());
      return 1;
    }
    BERTH_LOG(Info, "agent", "cgroups detected", "version", (*cgroups)->version());
    agent::runtime::LinuxRuntimeOptions options;
    options.state_dir = root + "/state";
    options.init_path = absl::GetFlag(FLAGS_container_init).empty() ? SelfDir() + "/berth-container-init"
                                                                    : absl::GetFlag(FLAGS_container_init);
    options.cgroups = *std::move(cgroups);
    options.spare_inits = absl::GetFlag(FLAGS_spare_container_inits);
    options.spare_roots = absl::GetFlag(FLAGS_spare_container_roots);
    options.init_zygote = absl::GetFlag(FLAGS_container_init_zygote);
    auto linux_rt = agent::runtime::LinuxRuntime::Create(std::move(options));
    if (!linux_rt.ok()) {
      std::fprintf(stderr, "runtime: %s\n", linux_rt.status().ToString().c_str());
      return 1;
    }
    rt = *std::move(linux_rt);
  }

  std::optional<agent::PortSecurity> port_security;
  if (const std::string client_ca = absl::GetFlag(FLAGS_client_ca_file); !client_ca.empty()) {
    agent::PortSecurity ps;
    ps.tls.client_ca_file = client_ca;
    ps.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
    ps.tls.key_file = absl::GetFlag(FLAGS_tls_private_key_file);
    if (ps.tls.cert_file.empty() != ps.tls.key_file.empty()) {
      std::fprintf(stderr, "--tls-cert-file and --tls-private-key-file go together\n");
      return 2;
    }
    if (ps.tls.cert_file.empty()) {
      std::string listen_host = absl::GetFlag(FLAGS_listen);
      listen_host = listen_host.substr(0, listen_host.rfind(':'));
      auto made = agent::EnsureServingCertificate(root + "/pki", node_name,
                                                  {absl::GetFlag(FLAGS_node_ip), listen_host, "127.0.0.1"},
                                                  RealClock::Get());
      if (!made.ok()) {
        std::fprintf(stderr, "serving certificate: %s\n", made.status().ToString().c_str());
        return 1;
      }
      ps.tls.cert_file = made->cert_file;
      ps.tls.key_file = made->key_file;
    }
    client::ApiClient* sar_client = api.get();
    const client::Resource kReviews{"authorization.k8s.io", "v1", "subjectaccessreviews", false, "SubjectAccessReview"};
    ps.authorizer = std::make_shared<agent::PortAuthorizer>(
        node_name, agent::SubjectAccessReviewer([sar_client, kReviews](const json::Value& review) {
          return sar_client->Create(kReviews, "", review);
        }),
        RealClock::Get());
    port_security = std::move(ps);
  } else if (connection->server.rfind("https://", 0) == 0) {
    // A secured cluster with an open agent port would let anyone who reaches it exec into
    // every container on the node.
    std::fprintf(stderr,
                 "--client-ca-file is required against an https apiserver: without it the agent's port would be open "
                 "to anyone (give the cluster's client CA, e.g. DATA_DIR/tls/client-ca.crt)\n");
    return 2;
  }
  auto logs = agent::LogServer::Start(absl::GetFlag(FLAGS_listen), *rt, RealClock::Get(), std::move(port_security));
  if (!logs.ok()) {
    std::fprintf(stderr, "--listen: %s\n", logs.status().ToString().c_str());
    return 2;
  }

  int hollow = fake ? absl::GetFlag(FLAGS_hollow_nodes) : 0;
  std::vector<agent::NodeConfig> nodes;
  agent::PodSyncOptions sync_options;
  for (int i = 0; i < std::max(1, hollow); ++i) {
    agent::NodeConfig n;
    n.name = hollow > 0 ? StrCat(node_name, "-", i) : node_name;
    n.address = absl::GetFlag(FLAGS_node_ip);
    n.labels = ParseLabels(absl::GetFlag(FLAGS_node_labels));
    n.taints = ParseTaints(absl::GetFlag(FLAGS_register_with_taints));
    json::Value reserved_cpu(absl::GetFlag(FLAGS_system_reserved_cpu));
    json::Value reserved_memory(absl::GetFlag(FLAGS_system_reserved_memory));
    n.reserved_cpu_millis = resource::MilliOf(&reserved_cpu);
    n.reserved_memory_bytes = resource::MilliOf(&reserved_memory) / 1000;
    n.max_pods = absl::GetFlag(FLAGS_max_pods);
    n.port = (*logs)->port();
    if (fake) n.runtime_version = "berth-fake://0.1.0";
    if (!absl::GetFlag(FLAGS_pod_network_ip).empty()) {
      n.annotations[agent::network::kPodNetworkIpAnnotation] = absl::GetFlag(FLAGS_pod_network_ip);
    }
    nodes.push_back(n);
    sync_options.node_names.insert(n.name);
  }
  std::function<agent::MachineInfo()> machine = [&image_manager] {
    agent::MachineInfo info = agent::ReadMachineInfo();
    info.images = image_manager.NodeImages();
    return info;
  };
  if (fake) {
    // Hollow nodes: a fixed, comfortable machine each (the real one is shared by thousands).
    agent::MachineInfo info = agent::ReadMachineInfo();
    info.cpu_millis = 8000;
    info.memory_bytes = 32LL << 30;
    info.memory_available_bytes = 32LL << 30;
    info.pids_in_use = 0;
    machine = [info] { return info; };
  }
  agent::HeartbeatOptions hb;
  hb.lease_interval = absl::Milliseconds(absl::GetFlag(FLAGS_lease_interval_ms));
  agent::NodeHeartbeat heartbeat(*api, nodes, machine, hb);
  absl::Status registered = heartbeat.RegisterAll();
  while (!registered.ok()) {
    BERTH_LOG(Warning, "agent", "Node registration failed; retrying", "error", registered.ToString());
    sleep(1);
    registered = heartbeat.RegisterAll();
  }
  heartbeat.Start();

  client::ListOptions selector;
  if (hollow == 0) selector.field_selector = "spec.nodeName=" + node_name;
  controllers::Informer pods(*api, client::resources::kPods, "", selector);
  agent::VolumeManagerOptions volume_options;
  volume_options.memory_backed = !fake;  // Secrets and tokens stay off the node's disk
  agent::VolumeManager volumes(fake ? nullptr : api.get(), root + "/pods", absl::GetFlag(FLAGS_node_ip), volume_options);
  if (auto api_address = ServerHostPort(connection->server)) {
    sync_options.api_host = api_address->first;
    sync_options.api_port = api_address->second;
  }
  agent::StatusManager status(*api);
  sync_options.node_address = absl::GetFlag(FLAGS_node_ip);
  sync_options.pods_dir = root + "/pods";
  sync_options.images = &image_manager;
  sync_options.seccomp_default = absl::GetFlag(FLAGS_seccomp_default);
  sync_options.any_image = fake;
  sync_options.workers = absl::GetFlag(FLAGS_workers);
  sync_options.pod_pids_limit = absl::GetFlag(FLAGS_pod_pids_limit);
  {
    // Empty names no file (the kubelet's meaning); a machine without /etc/resolv.conf has no
    // nameservers, which is no reason to refuse to start.
    const std::string path = absl::GetFlag(FLAGS_resolv_conf);
    std::ifstream resolv(path.empty() ? "/dev/null" : path);
    if (!resolv && !(path == "/etc/resolv.conf" && !std::filesystem::exists(path))) {
      std::fprintf(stderr, "--resolv-conf: cannot read %s\n", path.c_str());
      return 2;
    }
    std::stringstream text;
    text << resolv.rdbuf();
    sync_options.dns.node_resolv_conf = text.str();
  }
  std::unique_ptr<agent::network::NodeNetwork> node_network;
  if (absl::GetFlag(FLAGS_pod_network) == "bridge") {
    if (fake) {
      std::fprintf(stderr, "--pod-network=bridge needs --runtime=linux\n");
      return 2;
    }
    agent::network::NodeNetworkOptions net_options{node_name, absl::GetFlag(FLAGS_node_netns), root,
                                                   absl::GetFlag(FLAGS_cluster_cidr), absl::GetFlag(FLAGS_service_cidr),
                                                   absl::GetFlag(FLAGS_pod_egress), absl::GetFlag(FLAGS_cluster_dns),
                                                   absl::GetFlag(FLAGS_cluster_domain)};
    net_options.spares = absl::GetFlag(FLAGS_pod_network_spares);
    net_options.node_resolv_conf = sync_options.dns.node_resolv_conf;
    if (net_options.spares < 0 || net_options.spares > 64) {
      std::fprintf(stderr, "--pod-network-spares: %d is not between 0 and 64\n", net_options.spares);
      return 2;
    }
    auto started = agent::network::NodeNetwork::Start(*api, net_options);
    if (!started.ok()) {
      std::fprintf(stderr, "pod network: %s\n", std::string(started.status().message()).c_str());
      return 2;
    }
    node_network = *std::move(started);
    agent::network::NetworkDriver* driver = &node_network->driver();
    agent::SetProbeSocketFactory([driver](int domain, int type) {
      auto fd = driver->NodeSocket(domain, type);
      return fd.ok() ? *fd : -1;
    });
    node_network->WaitForNodes(absl::Seconds(10));
    sync_options.network = &node_network->pods();
    agent::network::NodeNetwork* nn = node_network.get();
    sync_options.service_env = [nn](const std::string& ns, bool links) { return nn->ServiceEnvironment(ns, links); };
    (*logs)->SetMetrics([nn] { return nn->RenderMetrics(); });
  } else if (absl::GetFlag(FLAGS_pod_network) != "none") {
    std::fprintf(stderr, "--pod-network: \"%s\" is neither none nor bridge\n", absl::GetFlag(FLAGS_pod_network).c_str());
    return 2;
  }
  sync_options.dns.cluster_dns = absl::GetFlag(FLAGS_cluster_dns);
  sync_options.dns.cluster_domain = absl::GetFlag(FLAGS_cluster_domain);
  agent::PodSync sync(api.get(), pods, *rt, volumes, status, sync_options);
  controllers::EventRecorder events(*api, "kubelet");
  // Events wait behind status updates in a burst of starts: on 2 cores, three Events per start
  // sent at once doubled the start-up latency of 100 pods (bench/agent_bench.py).
  events.SetSendRate(absl::GetFlag(FLAGS_event_qps), absl::GetFlag(FLAGS_event_burst));
  // Hollow nodes stay quiet: they stand in for load.
  if (!fake && absl::GetFlag(FLAGS_event_qps) > 0) sync.SetEventRecorder(&events);
  status.Start();
  pods.Start();
  while (!pods.WaitForSync(absl::Milliseconds(500))) {
  }
  sync.controller().Start();
  sync.CleanUpOrphans();
  // Image GC (and leases of containers that are gone), as the kubelet's image manager: every
  // 30 s, so a removed pod's image can be deleted soon after.
  Periodic image_gc(absl::Seconds(std::max<int64_t>(1, absl::GetFlag(FLAGS_image_gc_period_seconds))), [&] {
    auto listed = rt->List();
    if (!listed.ok()) return;
    std::set<std::string> live;
    for (const auto& c : *listed) live.insert(c.id);
    image_manager.GarbageCollect(live);
  });
  BERTH_LOG(Info, "agent", "Running", "node", node_name, "runtime", absl::GetFlag(FLAGS_runtime), "port", (*logs)->port(),
            "hollow_nodes", hollow);
  std::printf("agent %s running on port %d\n", node_name.c_str(), (*logs)->port());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&set, &sig);
  BERTH_LOG(Info, "agent", "Stopping", "signal", sig, "drain", absl::GetFlag(FLAGS_drain));
  // The sync loop stops first: a draining agent must not restart what it is stopping.
  sync.controller().Stop();
  if (absl::GetFlag(FLAGS_drain)) {
    sync.StopAll(absl::Seconds(30));
    // No container uses them now: a drained node keeps no Secret or token in memory. The next
    // start mounts and fills them again.
    volumes.UnmountAll();
    // Nor does a drained node keep its pods' network namespaces and addresses: the next start
    // sets up each pod's again.
    if (node_network) node_network->pods().CollectGarbage({});
    // Let the statuses already queued reach the apiserver (bounded).
    for (int i = 0; i < 50 && !status.Idle(); ++i) RealClock::Get().SleepFor(absl::Milliseconds(100));
  }
  heartbeat.Stop();
  rotator.reset();
  api->CancelWatches();
  pods.Stop();
  (*logs)->SetMetrics({});  // it reads the node network, which goes next
  node_network.reset();
  status.Stop();
  logs->reset();
  return 0;
}
