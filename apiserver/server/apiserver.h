#pragma once
// File: apiserver/server/apiserver.h
// The composition root of berth-apiserver: store, registry, watch cache, HTTP server and the
// request handler, wired together and started. Tests start it in-process on a MemoryStore.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "apiserver/storage/store.h"
#include "core/time/clock.h"

namespace berth::apiserver {

struct ApiServerOptions {
  std::string data_dir;            // empty: in-memory store (tests)
  std::string host = "127.0.0.1";
  int port = 0;
  storage::RetentionPolicy retention;
  absl::Duration compaction_interval = absl::Seconds(30);
  size_t watch_window_events = 10000;
  std::chrono::milliseconds bookmark_interval{5000};
  int network_threads = 2;
  // TLS (kube-apiserver's --tls-cert-file, --tls-private-key-file, --client-ca-file). Without a
  // certificate the server speaks plain HTTP (tests, loopback development).
  std::string tls_cert_file, tls_key_file, client_ca_file;
  // The apiserver's client certificate towards agents; empty: agents are spoken to in plain HTTP.
  std::string kubelet_client_certificate, kubelet_client_key;
  int work_threads = 64;
  // Creates that wait for no other write's commit (api_handler.h): a few threads per core.
  int admission_threads = 4;
  // Service ClusterIPs and NodePorts (kube-apiserver's flags of the same names).
  std::string service_cluster_ip_range = "10.96.0.0/12";
  std::string service_node_port_range = "30000-32767";
  // The address pods reach the apiserver at (kube-apiserver's --advertise-address): published as
  // the `kubernetes` Service's endpoints. Empty: none published (a loopback-only server).
  std::string advertise_address;
  // Authentication and authorization (apiserver/server/security.h).
  std::string authorization_mode = "AlwaysAllow";
  std::string token_auth_file;
  // kube-apiserver's AdmissionConfiguration (the PodSecurity plugin's defaults and exemptions);
  // empty: every namespace privileged unless its labels say otherwise.
  std::string admission_control_config_file;
  // Kubernetes' EncryptionConfiguration for encryption at rest; empty: values stored as written.
  std::string encryption_provider_config;
  // ServiceAccount tokens (security.h's SecurityOptions); no signing key: none issued.
  std::string service_account_signing_key_file;
  std::vector<std::string> service_account_key_files;
  std::string service_account_issuer = "https://kubernetes.default.svc.cluster.local";
  std::vector<std::string> api_audiences;
  absl::Duration service_account_max_token_expiration = absl::Hours(48);
  // Audit (as kube-apiserver's flags): no path, no audit; no policy file, audit::DefaultPolicy().
  std::string audit_log_path, audit_policy_file;
  int audit_log_maxsize = 100, audit_log_maxage = 0, audit_log_maxbackup = 0;
  std::string audit_log_mode = "blocking";  // or batch
  // kube-apiserver's limits on requests being served at once (0: none); past them, 429.
  int max_requests_inflight = 400;
  int max_mutating_requests_inflight = 200;
};

class ApiServer {
 public:
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(ApiServerOptions options,
                                                         const Clock& clock = RealClock::Get());
  ~ApiServer();
  // Ends watches, closes the listener, drains requests, closes the store.
  void Stop();
  int port() const;
  std::string address() const;  // host:port

 private:
  struct Parts;
  explicit ApiServer(std::unique_ptr<Parts> parts);
  // Serves the resources of stored CRDs and follows CRD writes from then on.
  static absl::Status ServeCustomResources(Parts& parts, const Clock& clock);
  std::unique_ptr<Parts> parts_;
};

}  // namespace berth::apiserver
