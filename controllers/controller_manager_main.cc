// berth-controller-manager --server URL [--leader-elect]
// Runs the built-in controllers and the scheduler as clients of the API. With --leader-elect
// only the holder of the kube-system/berth-controller-manager Lease acts; a standby takes over
// within the lease duration after the leader dies. Exits cleanly on SIGTERM; exits with 1 when
// it loses leadership (so a supervisor restarts it as a fresh candidate).

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/client/system_trust.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "core/flags/dashed_flags.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "controllers/builtin/cronjob/cronjob_controller.h"
#include "controllers/builtin/daemonset/daemonset_controller.h"
#include "controllers/builtin/disruption/disruption_controller.h"
#include "controllers/builtin/resourcequota/resourcequota_controller.h"
#include "controllers/builtin/deployment/deployment_controller.h"
#include "controllers/builtin/gc/custom_kinds.h"
#include "controllers/builtin/gc/garbage_collector.h"
#include "controllers/builtin/job/job_controller.h"
#include "controllers/builtin/namespace/namespace_controller.h"
#include "controllers/builtin/bootstrap/token_cleaner.h"
#include "controllers/builtin/certificates/csr_approver.h"
#include "controllers/builtin/certificates/csr_signer.h"
#include "core/pki/certificates.h"
#include "core/pki/private_files.h"
#include "controllers/builtin/serviceaccount/service_accounts_controller.h"
#include "controllers/builtin/endpointslice/endpointslice_controller.h"
#include "controllers/builtin/nodeipam/node_ipam_controller.h"
#include "controllers/builtin/nodelifecycle/node_lifecycle_controller.h"
#include "controllers/builtin/replicaset/replicaset_controller.h"
#include "controllers/builtin/scheduler/profile.h"
#include "controllers/builtin/scheduler/scheduler.h"
#include "core/json/codec.h"
#include "core/yaml/yaml_codec.h"
#include "controllers/runtime/event_recorder.h"
#include "controllers/runtime/failure_events.h"
#include "controllers/runtime/informer.h"
#include "controllers/runtime/leader_election.h"
#include "controllers/runtime/status_server.h"
#include "core/client/api_client.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

ABSL_FLAG(std::string, server, "", "API server URL; overrides the server of --kubeconfig");
ABSL_FLAG(std::string, kubeconfig, "",
          "kubeconfig with the server, the CA to trust and this component's credentials (client certificate or token)");
ABSL_FLAG(std::string, root_ca_file, "",
          "the CA published as ca.crt in every namespace's kube-root-ca.crt ConfigMap (default: the CA the "
          "--kubeconfig trusts; none on plain HTTP)");
ABSL_FLAG(std::string, cluster_signing_cert_file, "",
          "the CA certificate (PEM) client certificates of approved CertificateSigningRequests are signed with "
          "(berth up: the client CA); none: no signing");
ABSL_FLAG(std::string, cluster_signing_key_file, "", "the key of --cluster-signing-cert-file");
ABSL_FLAG(absl::Duration, cluster_signing_duration, absl::Hours(24 * 365),
          "the longest lifetime of a certificate the signer issues");
ABSL_FLAG(bool, leader_elect, false, "elect a leader through a Lease before acting");
ABSL_FLAG(std::string, identity, "", "leader election identity (default: hostname_pid)");
ABSL_FLAG(int64_t, lease_duration_seconds, 15, "leader election lease duration");
ABSL_FLAG(int, workers, 4, "workers per controller");
ABSL_FLAG(int, scheduler_workers, 16, "scheduler workers (bindings in flight)");
ABSL_FLAG(bool, scheduler, true, "run the scheduler in this process");
ABSL_FLAG(int64_t, preemption_min_priority_gap, 1,
          "a pod preempts only pods at least this much lower in priority (1: any lower priority, as Kubernetes)");
ABSL_FLAG(std::string, preemption_protected_band, "",
          "pods at or above this priority never preempt each other (Borg's production band); empty: off");
ABSL_FLAG(bool, fair_share_preemption, false,
          "a pod of a queue below another queue's weighted dominant share may preempt that queue's pods at its own "
          "priority or below while it stays below (Kueue's fairSharing preemption); off: only priority and a "
          "queue's guarantee preempt");
ABSL_FLAG(std::string, scheduler_config, "",
          "a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) file: scheduler profiles and their score plugins");
ABSL_FLAG(bool, allocate_node_cidrs, false, "give each Node a spec.podCIDR from --cluster-cidr (the nodeipam controller)");
ABSL_FLAG(std::string, cluster_cidr, "10.244.0.0/16", "the pod network: node podCIDRs are carved from it");
ABSL_FLAG(int, node_cidr_mask_size, 24, "the prefix length of each Node's podCIDR");
ABSL_FLAG(int64_t, node_monitor_grace_period_seconds, 40, "heartbeat silence after which a node is NotReady");
ABSL_FLAG(int64_t, job_backoff_base_ms, 10000, "delay before recreating a Job's failed pod (doubles per failure)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:0",
          "HOST:PORT for /healthz, /readyz and /metrics (port 0 picks a free one; empty disables)");
ABSL_FLAG(int64_t, pod_eviction_timeout_seconds, 300, "time a node stays unreachable before its pods are evicted");

namespace {

absl::StatusOr<std::string> ReadRootCa(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(berth::StrCat("cannot read ", path));
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError(berth::StrCat(path, " holds no PEM certificate"));
  }
  return pem;
}

std::atomic<bool> g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  berth::client::DeferSystemTrustLoading();  // first: it sets an environment variable
  sigset_t set = berth::flags::ParseFlagsAndBlockSignals(argc, argv,
                                                         "berth-controller-manager --server URL [--leader-elect]");

  using namespace berth;
  auto connection = client::ConnectionFromFlags(absl::GetFlag(FLAGS_kubeconfig), absl::GetFlag(FLAGS_server));
  if (!connection.ok()) {
    std::fprintf(stderr, "%s\n", std::string(connection.status().message()).c_str());
    return 2;
  }
  client::InitializeClientThreads(2);
  std::unique_ptr<controllers::StatusServer> status_server;
  if (std::string listen = absl::GetFlag(FLAGS_metrics_listen); !listen.empty()) {
    auto started = controllers::StatusServer::Start(listen);
    if (!started.ok()) {
      std::fprintf(stderr, "--metrics-listen: %s\n", started.status().ToString().c_str());
      return 2;
    }
    status_server = std::move(*started);
    std::printf("serving metrics on http://%s\n", status_server->address().c_str());
    std::fflush(stdout);
  }
  auto api = client::ApiClient::Connect(*connection);
  absl::StatusOr<std::string> root_ca = connection->ca_pem;
  if (const std::string file = absl::GetFlag(FLAGS_root_ca_file); !file.empty()) root_ca = ReadRootCa(file);
  if (!root_ca.ok()) {
    std::fprintf(stderr, "--root-ca-file: %s\n", std::string(root_ca.status().message()).c_str());
    return 2;
  }
  std::optional<berth::pki::KeyPair> signing_ca;
  if (std::string cert = absl::GetFlag(FLAGS_cluster_signing_cert_file), key = absl::GetFlag(FLAGS_cluster_signing_key_file);
      !cert.empty() || !key.empty()) {
    auto cert_pem = berth::pki::ReadWholeFile(cert);
    auto key_pem = berth::pki::ReadWholeFile(key);
    if (cert.empty() || key.empty() || !cert_pem.ok() || !key_pem.ok() || !berth::pki::KeyMatches(*cert_pem, *key_pem)) {
      std::fprintf(stderr, "--cluster-signing-cert-file and --cluster-signing-key-file must name a readable CA and its key\n");
      return 2;
    }
    signing_ca = berth::pki::KeyPair{*cert_pem, *key_pem};
  }
  std::mutex mu;
  std::condition_variable cv;
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    BERTH_LOG(Info, "controller-manager", "Stopping", "signal", sig);
    g_stop = true;
    api->CancelWatches();
    cv.notify_all();
  });
  signals.detach();

  std::unique_ptr<controllers::LeaderElector> elector;
  if (absl::GetFlag(FLAGS_leader_elect)) {
    controllers::LeaderElectionConfig cfg;
    cfg.lease_name = "berth-controller-manager";
    cfg.identity = absl::GetFlag(FLAGS_identity);
    if (cfg.identity.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof host - 1);
      cfg.identity = StrCat(host, "_", getpid());
    }
    cfg.lease_duration = absl::Seconds(absl::GetFlag(FLAGS_lease_duration_seconds));
    cfg.renew_deadline = cfg.lease_duration * 2 / 3;
    cfg.retry_period = std::max(cfg.lease_duration / 7, absl::Milliseconds(200));
    elector = std::make_unique<controllers::LeaderElector>(*api, cfg);
    BERTH_LOG(Info, "controller-manager", "Waiting for leadership", "identity", cfg.identity);
    if (!elector->Acquire(g_stop)) return 0;
  }

  controllers::Informer pods(*api, client::resources::kPods);
  controllers::Informer nodes(*api, client::resources::kNodes);
  controllers::Informer replicasets(*api, client::resources::kReplicaSets);
  controllers::Informer deployments(*api, client::resources::kDeployments);
  controllers::Informer namespaces(*api, client::resources::kNamespaces);
  controllers::Informer configmaps(*api, client::resources::kConfigMaps);
  controllers::Informer service_accounts(*api, client::resources::kServiceAccounts);
  controllers::Informer node_leases(*api, client::resources::kLeases, "kube-node-lease");
  controllers::Informer jobs(*api, client::resources::kJobs);
  controllers::Informer daemonsets(*api, client::resources::kDaemonSets);
  controllers::Informer cronjobs(*api, client::resources::kCronJobs);
  controllers::Informer budgets(*api, client::resources::kPodDisruptionBudgets);
  controllers::Informer priority_classes(*api, client::resources::kPriorityClasses);
  controllers::Informer quotas(*api, client::resources::kResourceQuotas);
  controllers::Informer queues(*api, client::resources::kQueues);
  controllers::Informer services(*api, client::resources::kServices);
  controllers::Informer endpoint_slices(*api, client::resources::kEndpointSlices);
  std::vector<controllers::Informer*> informers = {&pods, &nodes, &replicasets, &deployments, &namespaces, &configmaps,
                                                   &node_leases, &jobs, &daemonsets, &cronjobs, &budgets, &priority_classes,
                                                   &quotas, &queues, &services, &endpoint_slices, &service_accounts};
  std::vector<controllers::builtin::WatchedKind> kinds = {
      {client::resources::kPods, &pods}, {client::resources::kReplicaSets, &replicasets},
      {client::resources::kDeployments, &deployments}, {client::resources::kConfigMaps, &configmaps},
      {client::resources::kJobs, &jobs}, {client::resources::kDaemonSets, &daemonsets},
      {client::resources::kCronJobs, &cronjobs}, {client::resources::kEndpointSlices, &endpoint_slices},
      {client::resources::kServices, &services}};
  int workers = absl::GetFlag(FLAGS_workers);
  controllers::builtin::ReplicaSetController rs(*api, replicasets, pods, RealClock::Get(), workers);
  controllers::builtin::DeploymentController deploy(*api, deployments, replicasets, RealClock::Get(), workers);
  controllers::builtin::GarbageCollector gc(*api, kinds, RealClock::Get(), workers);
  controllers::builtin::CustomKindWatcher custom_kinds(*api, *connection, gc);
  controllers::builtin::NamespaceController ns_controller(*api, namespaces);
  controllers::builtin::ServiceAccountsController sa_controller(*api, namespaces, service_accounts, configmaps,
                                                                *std::move(root_ca));
  controllers::Informer system_secrets(*api, client::resources::kSecrets, "kube-system",
                                       client::ListOptions{.field_selector = "type=bootstrap.kubernetes.io/token"});
  informers.push_back(&system_secrets);
  controllers::builtin::TokenCleaner token_cleaner(*api, system_secrets);
  controllers::Informer csrs(*api, client::resources::kCertificateSigningRequests);
  informers.push_back(&csrs);
  controllers::builtin::CsrApprover csr_approver(*api, csrs);
  std::unique_ptr<controllers::builtin::CsrSigner> csr_signer;
  if (signing_ca) {
    csr_signer = std::make_unique<controllers::builtin::CsrSigner>(*api, csrs, *signing_ca,
                                                                   absl::GetFlag(FLAGS_cluster_signing_duration));
  }
  controllers::builtin::NodeLifecycleOptions nl;
  nl.grace = absl::Seconds(absl::GetFlag(FLAGS_node_monitor_grace_period_seconds));
  nl.eviction_timeout = absl::Seconds(absl::GetFlag(FLAGS_pod_eviction_timeout_seconds));
  controllers::builtin::NodeLifecycleController node_lifecycle(*api, nodes, node_leases, pods, nl);
  std::vector<controllers::Controller*> running = {&rs.controller(), &deploy.controller(), &gc.controller(),
                                                   &ns_controller.controller(), &node_lifecycle.controller(),
                                                   &sa_controller.controller(), &token_cleaner.controller(),
                                                   &csr_approver.controller()};
  if (csr_signer) running.push_back(&csr_signer->controller());
  std::unique_ptr<controllers::builtin::NodeIpamController> node_ipam;
  if (absl::GetFlag(FLAGS_allocate_node_cidrs)) {
    auto cluster = net::ParseIpv4Prefix(absl::GetFlag(FLAGS_cluster_cidr));
    auto allocator = cluster.ok() ? controllers::builtin::CidrAllocator::Create(*cluster, absl::GetFlag(FLAGS_node_cidr_mask_size))
                                  : absl::StatusOr<controllers::builtin::CidrAllocator>(cluster.status());
    if (!allocator.ok()) {
      std::fprintf(stderr, "--cluster-cidr/--node-cidr-mask-size: %s\n", std::string(allocator.status().message()).c_str());
      return 2;
    }
    node_ipam = std::make_unique<controllers::builtin::NodeIpamController>(*api, nodes, *std::move(allocator));
    running.push_back(&node_ipam->controller());
  }
  controllers::builtin::EndpointSliceController endpointslice(*api, services, pods, endpoint_slices, RealClock::Get(), workers);
  running.push_back(&endpointslice.controller());
  controllers::builtin::JobController job_controller(*api, jobs, pods, RealClock::Get(), workers,
                                                     absl::Milliseconds(absl::GetFlag(FLAGS_job_backoff_base_ms)));
  running.push_back(&job_controller.controller());
  controllers::builtin::DaemonSetController ds_controller(*api, daemonsets, nodes, pods, RealClock::Get(), workers);
  running.push_back(&ds_controller.controller());
  controllers::builtin::CronJobController cj_controller(*api, cronjobs, jobs);
  running.push_back(&cj_controller.controller());
  controllers::builtin::DisruptionController disruption(*api, budgets, pods, replicasets, RealClock::Get(), workers);
  running.push_back(&disruption.controller());
  controllers::builtin::ResourceQuotaController quota_controller(*api, quotas, pods, RealClock::Get(), workers);
  running.push_back(&quota_controller.controller());
  std::unique_ptr<controllers::builtin::Scheduler> scheduler;
  if (absl::GetFlag(FLAGS_scheduler)) {
    scheduler = std::make_unique<controllers::builtin::Scheduler>(*api, pods, nodes, RealClock::Get(),
                                                                  absl::GetFlag(FLAGS_scheduler_workers));
  }
  if (scheduler) {
    controllers::builtin::PreemptionOptions preemption;
    preemption.min_priority_gap = std::max<int64_t>(1, absl::GetFlag(FLAGS_preemption_min_priority_gap));
    if (std::string band = absl::GetFlag(FLAGS_preemption_protected_band); !band.empty()) {
      int64_t value = 0;
      if (!absl::SimpleAtoi(band, &value)) {
        std::fprintf(stderr, "--preemption-protected-band: not an integer: %s\n", band.c_str());
        return 2;
      }
      preemption.protected_band = value;
    }
    preemption.fair_share = absl::GetFlag(FLAGS_fair_share_preemption);
    scheduler->SetPreemptionOptions(preemption);
    if (std::string path = absl::GetFlag(FLAGS_scheduler_config); !path.empty()) {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        std::fprintf(stderr, "--scheduler-config: cannot read %s\n", path.c_str());
        return 2;
      }
      auto config = yaml::ParseSingle(text.str());
      auto profiles = config.ok() ? controllers::builtin::ParseSchedulerConfiguration(*config)
                                  : absl::StatusOr<std::vector<controllers::builtin::SchedulerProfile>>(config.status());
      if (!profiles.ok()) {
        std::fprintf(stderr, "--scheduler-config %s: %s\n", path.c_str(), std::string(profiles.status().message()).c_str());
        return 2;
      }
      scheduler->SetProfiles(std::move(*profiles));
    }
    scheduler->SetDisruptionBudgets(&budgets);
    scheduler->SetPriorityClasses(&priority_classes);
    scheduler->SetNamespaces(&namespaces);
    scheduler->SetQueues(&queues);
    running.push_back(&scheduler->controller());
  }
  controllers::EventRecorder cm_events(*api, "berth-controller-manager");
  controllers::EventRecorder scheduler_events(*api, "default-scheduler");
  rs.SetEventRecorder(&cm_events);
  if (node_ipam) node_ipam->SetEventRecorder(&cm_events);
  deploy.SetEventRecorder(&cm_events);
  job_controller.SetEventRecorder(&cm_events);
  if (scheduler) scheduler->SetEventRecorder(&scheduler_events);
  // A reconcile that fails (or throws: the controller contains it) says why on the object.
  controllers::ReportFailuresAsEvents(rs.controller(), replicasets, cm_events);
  controllers::ReportFailuresAsEvents(deploy.controller(), deployments, cm_events);
  controllers::ReportFailuresAsEvents(job_controller.controller(), jobs, cm_events);
  controllers::ReportFailuresAsEvents(ds_controller.controller(), daemonsets, cm_events);
  controllers::ReportFailuresAsEvents(cj_controller.controller(), cronjobs, cm_events);
  if (scheduler) controllers::ReportFailuresAsEvents(scheduler->controller(), pods, scheduler_events);
  for (controllers::Informer* i : informers) i->Start();
  for (controllers::Informer* i : informers) {
    while (!g_stop && !i->WaitForSync(absl::Milliseconds(200))) {
    }
  }
  for (controllers::Controller* c : running) c->Start();
  custom_kinds.Start();
  if (status_server) {
    status_server->AddControllers(running);
    if (scheduler) {
      // /debug/pending/<namespace>/<pod>: why the pod waits, recomputed without writing.
      status_server->AddDebugHandler("pending", [&scheduler](const std::string& rest) -> std::pair<int, std::string> {
        auto explained = scheduler->ExplainPending(rest);
        if (!explained.ok()) {
          json::Value error = json::Value::MakeObject();
          error.Set("error", std::string(explained.status().message()));
          return {explained.status().code() == absl::StatusCode::kNotFound ? 404 : 500, json::Serialize(error)};
        }
        return {200, json::Serialize(*explained)};
      });
      status_server->AddMetrics([&scheduler](std::string& out) { scheduler->RenderMetrics(out); });
    }
    status_server->SetLeading(true);
  }
  BERTH_LOG(Info, "controller-manager", "Controllers running", "server", connection->server);
  std::printf("controller-manager running against %s\n", connection->server.c_str());
  std::fflush(stdout);

  bool lost = false;
  if (elector) {
    lost = !elector->RenewUntil(g_stop);
  } else {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [] { return g_stop.load(); });
  }
  g_stop = true;
  if (status_server) status_server->SetLeading(false);
  api->CancelWatches();
  custom_kinds.Stop();
  for (controllers::Controller* c : running) c->Stop();
  for (controllers::Informer* i : informers) i->Stop();
  BERTH_LOG(Info, "controller-manager", "Stopped", "lost_leadership", lost);
  return lost ? 1 : 0;
}
