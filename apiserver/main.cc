// berth-apiserver: flags only; everything else is ApiServer.
//   berth-apiserver --data-dir DIR --listen 127.0.0.1:PORT   (PORT 0 picks a free port)
// Logs to stderr, prints "listening on http(s)://HOST:PORT" once serving, exits cleanly on SIGTERM.

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <algorithm>
#include <string>
#include <vector>

#include "core/client/system_trust.h"
#include "absl/flags/flag.h"
#include "core/flags/dashed_flags.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "core/http/http.h"
#include "apiserver/registry/kinds/field_support.h"
#include "apiserver/server/apiserver.h"
#include "apiserver/server/serving_pki.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

// jemalloc reads this at start-up. One arena per core, chosen by the core a thread runs on:
// requests are served by a 64-thread work pool, and by default jemalloc would spread them over
// 4 arenas per core, each keeping its own freed pages resident (large bodies written through
// many threads left ~100 MB more resident, measured by e2e/test_http_hostile.py).
extern "C" const char* malloc_conf;
const char* malloc_conf = "percpu_arena:percpu";

ABSL_FLAG(std::string, data_dir, "", "RocksDB data directory (empty: in-memory, nothing durable)");
ABSL_FLAG(std::string, listen, "127.0.0.1:6443", "host:port to serve on; port 0 picks a free port");
ABSL_FLAG(int64_t, retention_events, 100000, "change-log events kept at least (watch resume window)");
ABSL_FLAG(int64_t, retention_seconds, 300, "change-log age kept at least, in seconds");
ABSL_FLAG(int64_t, compaction_interval_ms, 30000, "how often the change log is compacted");
ABSL_FLAG(int64_t, watch_window_events, 10000, "events held in memory for watch fan-out");
ABSL_FLAG(int64_t, bookmark_interval_ms, 5000, "interval of BOOKMARK events to watchers that allow them");
ABSL_FLAG(int, network_threads, 2, "HTTP I/O threads (2-4 suit a 2-core machine)");
ABSL_FLAG(int, work_threads, 64, "threads for writes and lists (each may wait for a group commit)");
ABSL_FLAG(int, admission_threads, 4, "threads admitting creates that wait for no commit (about 2 per core)");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate (chain) to serve HTTPS with; reread for new connections when it changes");
ABSL_FLAG(std::string, tls_private_key_file, "", "PEM private key of --tls-cert-file");
ABSL_FLAG(std::string, client_ca_file, "", "verify client certificates against this CA: CN is the user, O the groups");
ABSL_FLAG(std::string, kubelet_client_certificate, "",
          "client certificate the apiserver presents to agents (exec, attach, port-forward, logs) over HTTPS; default: "
          "client-kube-apiserver.crt of --cert-dir; none: agents are spoken to in plain HTTP");
ABSL_FLAG(std::string, kubelet_client_key, "", "the key of --kubelet-client-certificate");
ABSL_FLAG(std::string, service_cluster_ip_range, "10.96.0.0/12", "the range Service ClusterIPs come from (the first is the kubernetes Service's)");
ABSL_FLAG(std::string, advertise_address, "",
          "the IPv4 address pods reach the apiserver at, published as the kubernetes Service's endpoints (default: the "
          "--listen address when it is a specific, non-loopback one; none: not published)");
ABSL_FLAG(std::string, service_node_port_range, "30000-32767", "the range NodePorts come from (FIRST-LAST)");
ABSL_FLAG(std::string, authorization_mode, "",
          "Node,RBAC (nodes confined to their own objects, then Kubernetes RBAC; system:masters always; anonymous "
          "only for /livez /readyz /healthz /version), RBAC, or AlwaysAllow; empty: Node,RBAC, or AlwaysAllow with "
          "--insecure-loopback-http");
ABSL_FLAG(std::string, cert_dir, "",
          "where the cluster CAs and the serving certificate are made and renewed when --tls-cert-file is not given "
          "(empty: DATA_DIR/tls)");
ABSL_FLAG(std::vector<std::string>, tls_san, {}, "extra subjectAltNames (host names or IPs) of the serving certificate");
ABSL_FLAG(bool, insecure_loopback_http, false,
          "development only: plain HTTP on a loopback address, no client identity, every request allowed unless "
          "--authorization-mode says otherwise");
ABSL_FLAG(std::string, audit_log_path, "",
          "append audit.k8s.io/v1 Event lines to this file (rotated); empty: no audit");
ABSL_FLAG(std::string, audit_policy_file, "",
          "audit Policy (audit.k8s.io/v1); default: metadata of every request, request bodies of writes, never the "
          "bodies of Secrets, ConfigMaps or tokens, nothing for health checks and lease renewals");
ABSL_FLAG(int, audit_log_maxsize, 100, "megabytes of audit log before it is rotated; 0: never");
ABSL_FLAG(int, audit_log_maxage, 0, "days to keep rotated audit logs; 0: no limit");
ABSL_FLAG(int, audit_log_maxbackup, 0, "rotated audit logs to keep; 0: no limit");
ABSL_FLAG(std::string, audit_log_mode, "blocking",
          "blocking: each event is written before its request is answered; batch: events are written together by a "
          "writer thread at least every 100 ms (faster; a crash can lose the last 100 ms)");
ABSL_FLAG(std::string, service_account_signing_key_file, "",
          "PEM RSA private key ServiceAccount tokens are signed with; default with generated certificates: "
          "service-account.key of --cert-dir");
ABSL_FLAG(std::vector<std::string>, service_account_key_file, {},
          "more PEM keys (public or private) ServiceAccount tokens may be verified with (key rotation)");
ABSL_FLAG(std::string, service_account_issuer, "https://kubernetes.default.svc.cluster.local",
          "the iss claim of ServiceAccount tokens");
ABSL_FLAG(std::vector<std::string>, api_audiences, {}, "audiences of the API (default: the issuer)");
ABSL_FLAG(absl::Duration, service_account_max_token_expiration, absl::Hours(48),
          "longest lifetime of a requested ServiceAccount token; longer requests are shortened");
ABSL_FLAG(std::string, admission_control_config_file, "",
          "AdmissionConfiguration with the PodSecurity plugin's defaults and exemptions (berth up: enforce baseline, "
          "warn restricted, kube-system exempt)");
ABSL_FLAG(std::string, encryption_provider_config, "",
          "Kubernetes EncryptionConfiguration for encryption at rest (aesgcm, aescbc, identity); default with "
          "generated certificates: encryption-config.yaml of --cert-dir, made at first start (aesgcm for Secrets)");
ABSL_FLAG(std::string, token_auth_file, "", "Kubernetes static token file: CSV lines token,user,uid[,\"group1,group2\"]");
ABSL_FLAG(int, max_requests_inflight, 400, "read-only requests served at once before 429 (0: no limit; watches not counted)");
ABSL_FLAG(int, max_mutating_requests_inflight, 200, "mutating requests served at once before 429 (0: no limit)");
ABSL_FLAG(bool, print_compatibility, false, "print docs/compatibility.md (served kinds, honoured and warned fields) and exit");

namespace {

void RaiseFileLimit() {
  // Every open connection and watch is a descriptor: 1,000 watchers need more than the default.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  berth::client::DeferSystemTrustLoading();  // first: it sets an environment variable
  umask(077);  // keys, the store and logs are for this user only (CIS 1.1.x)
  // Signals are taken by sigwait below, never by a random thread.
  sigset_t set = berth::flags::ParseFlagsAndBlockSignals(argc, argv, "berth-apiserver --data-dir DIR --listen HOST:PORT");
  RaiseFileLimit();
  if (absl::GetFlag(FLAGS_print_compatibility)) {
    std::fputs(berth::apiserver::registry::kinds::CompatibilityDocument().c_str(), stdout);
    return 0;
  }

  berth::apiserver::ApiServerOptions options;
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  berth::http::ServerOptions listen;
  if (absl::Status parsed = berth::http::ParseListenAddress(absl::GetFlag(FLAGS_listen), listen);
      !parsed.ok()) {
    std::fprintf(stderr, "--listen: %s\n", std::string(parsed.message()).c_str());
    return 2;
  }
  options.host = listen.host;
  options.port = listen.port;
  options.retention.min_events = static_cast<uint64_t>(absl::GetFlag(FLAGS_retention_events));
  options.retention.min_age = absl::Seconds(absl::GetFlag(FLAGS_retention_seconds));
  options.compaction_interval = absl::Milliseconds(absl::GetFlag(FLAGS_compaction_interval_ms));
  options.watch_window_events = static_cast<size_t>(absl::GetFlag(FLAGS_watch_window_events));
  options.bookmark_interval = std::chrono::milliseconds(absl::GetFlag(FLAGS_bookmark_interval_ms));
  options.network_threads = absl::GetFlag(FLAGS_network_threads);
  options.work_threads = absl::GetFlag(FLAGS_work_threads);
  options.admission_threads = absl::GetFlag(FLAGS_admission_threads);
  options.service_cluster_ip_range = absl::GetFlag(FLAGS_service_cluster_ip_range);
  options.service_node_port_range = absl::GetFlag(FLAGS_service_node_port_range);
  options.advertise_address = absl::GetFlag(FLAGS_advertise_address);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_private_key_file);
  options.client_ca_file = absl::GetFlag(FLAGS_client_ca_file);
  options.kubelet_client_certificate = absl::GetFlag(FLAGS_kubelet_client_certificate);
  options.kubelet_client_key = absl::GetFlag(FLAGS_kubelet_client_key);
  berth::apiserver::SecurityFlags security{.cert_dir = absl::GetFlag(FLAGS_cert_dir),
                                           .tls_sans = absl::GetFlag(FLAGS_tls_san),
                                           .insecure_loopback_http = absl::GetFlag(FLAGS_insecure_loopback_http),
                                           .authorization_mode = absl::GetFlag(FLAGS_authorization_mode)};
  options.token_auth_file = absl::GetFlag(FLAGS_token_auth_file);
  options.encryption_provider_config = absl::GetFlag(FLAGS_encryption_provider_config);
  options.admission_control_config_file = absl::GetFlag(FLAGS_admission_control_config_file);
  options.service_account_signing_key_file = absl::GetFlag(FLAGS_service_account_signing_key_file);
  options.service_account_key_files = absl::GetFlag(FLAGS_service_account_key_file);
  options.service_account_issuer = absl::GetFlag(FLAGS_service_account_issuer);
  options.api_audiences = absl::GetFlag(FLAGS_api_audiences);
  options.service_account_max_token_expiration = absl::GetFlag(FLAGS_service_account_max_token_expiration);
  options.audit_log_path = absl::GetFlag(FLAGS_audit_log_path);
  options.audit_policy_file = absl::GetFlag(FLAGS_audit_policy_file);
  options.audit_log_maxsize = absl::GetFlag(FLAGS_audit_log_maxsize);
  options.audit_log_maxage = absl::GetFlag(FLAGS_audit_log_maxage);
  options.audit_log_maxbackup = absl::GetFlag(FLAGS_audit_log_maxbackup);
  options.audit_log_mode = absl::GetFlag(FLAGS_audit_log_mode);
  options.max_requests_inflight = absl::GetFlag(FLAGS_max_requests_inflight);
  options.max_mutating_requests_inflight = absl::GetFlag(FLAGS_max_mutating_requests_inflight);

  auto renewal = berth::apiserver::ApplySecurityFlags(security, options, berth::RealClock::Get());
  if (!renewal.ok()) {
    BERTH_LOG(Error, "apiserver", "Cannot start", "error", renewal.status().ToString());
    std::fprintf(stderr, "%s\n", std::string(renewal.status().message()).c_str());
    return 2;
  }
  auto server = berth::apiserver::ApiServer::Start(options);
  if (!server.ok()) {
    BERTH_LOG(Error, "apiserver", "Cannot start", "error", server.status().ToString());
    return 1;
  }
  BERTH_LOG(Info, "apiserver", "Serving", "address", (*server)->address(), "data_dir",
            options.data_dir.empty() ? "(memory)" : options.data_dir);
  std::printf("listening on %s://%s\n", options.tls_cert_file.empty() ? "http" : "https", (*server)->address().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  BERTH_LOG(Info, "apiserver", "Stopping", "signal", sig);
  (*server)->Stop();
  server->reset();
  BERTH_LOG(Info, "apiserver", "Stopped");
  return 0;
}
