#include "apiserver/server/apiserver.h"

#include <algorithm>
#include <fstream>

#include "apiserver/audit/auditor.h"
#include "core/http/http.h"
#include "core/net/ipv4.h"
#include "apiserver/registry/admission/limit_ranger.h"
#include "apiserver/registry/admission/pod_security.h"
#include "apiserver/registry/admission/priority.h"
#include "apiserver/registry/admission/certificate_signing.h"
#include "apiserver/registry/admission/service_account.h"
#include "apiserver/registry/admission/resource_quota.h"
#include "apiserver/registry/admission/service_allocation.h"
#include "apiserver/registry/admission/queue_hierarchy.h"
#include "apiserver/registry/custom_resources.h"
#include "apiserver/registry/registry.h"
#include "core/json/codec.h"
#include "apiserver/schema/validator.h"
#include "apiserver/server/api_handler.h"
#include "apiserver/server/metrics.h"
#include "apiserver/server/encryption_at_rest.h"
#include "apiserver/server/reviews.h"
#include "apiserver/server/service_account_tokens.h"
#include "apiserver/server/kubernetes_endpoints.h"
#include "apiserver/server/security.h"
#include "apiserver/storage/encrypting_store.h"
#include "apiserver/storage/memory/memory_store.h"
#include "apiserver/storage/rocksdb/rocksdb_store.h"
#include "apiserver/watch/watch_cache.h"
#include "core/concurrency/thread_pool.h"
#include "core/log/log.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth {
std::map<std::string, std::string> EmbeddedSchemas();
}  // namespace berth

namespace berth::apiserver {

// Members are destroyed in reverse order: the HTTP server goes before the pool, the pool before
// the registry, the registry before the store.
struct ApiServer::Parts {
  ApiServerOptions options;
  std::unique_ptr<storage::Store> store;
  std::shared_ptr<const schema::SchemaSet> schemas;
  std::unique_ptr<registry::Catalog> catalog;
  std::unique_ptr<registry::Registry> registry;
  std::unique_ptr<ThreadPool> crd_cleanup;  // deletes the objects of CRDs being deleted
  std::unique_ptr<watch::WatchCache> watch_cache;
  std::unique_ptr<server::Metrics> metrics;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<ThreadPool> admission_pool;
  std::unique_ptr<server::Security> security;
  std::unique_ptr<server::InflightLimiter> limiter;
  std::unique_ptr<server::ApiHandler> handler;
  std::unique_ptr<http::Server> http;
  bool stopped = false;
};

namespace {

bool IsCrd(const registry::ResourceType& t) {
  return t.group == "apiextensions.k8s.io" && t.kind == "CustomResourceDefinition";
}

// Deletes every object of a CRD that is being deleted, then releases the CRD's cleanup
// finalizer (the CRD then goes, and the observer unlists its resources).
void CleanUpCrd(registry::Registry& reg, registry::Catalog& catalog, const json::Value& crd, const Clock& clock) {
  std::string group = crd.GetString({"spec", "group"});
  std::string plural = crd.GetString({"spec", "names", "plural"});
  const registry::ResourceType* crd_type = catalog.FindKind("apiextensions.k8s.io", "CustomResourceDefinition");
  for (int attempt = 0; attempt < 600; ++attempt) {
    const registry::ResourceType* type = nullptr;
    for (const auto& t : registry::TypesFromCrd(crd)) {
      if ((type = catalog.Find(t.group, t.version, t.plural)) != nullptr) break;
    }
    size_t left = 0;
    if (type != nullptr) {
      auto page = reg.List(*type, "", {});
      if (page.ok()) {
        for (const std::string& item : page->items) {
          auto obj = json::ParseStored(item);
          if (!obj.ok()) continue;
          ++left;
          if (obj->Get({"metadata", "deletionTimestamp"})) continue;
          (void)reg.Delete(*type, obj->GetString({"metadata", "namespace"}), obj->GetString({"metadata", "name"}), {});
        }
      }
    }
    if (left == 0) {
      json::Value patch = json::Value::MakeArray();
      json::Value keep = json::Value::MakeArray();
      if (const json::Value* fins = crd.Get({"metadata", "finalizers"}); fins && fins->is_array()) {
        for (const json::Value& f : fins->as_array()) {
          if (!(f.is_string() && f.as_string() == registry::kCrdCleanupFinalizer)) keep.as_array().push_back(f);
        }
      }
      json::Value merge = json::Value::MakeObject();
      merge.Ensure({"metadata"}).Set("finalizers", std::move(keep));
      auto r = reg.Patch(*crd_type, "", crd.GetString({"metadata", "name"}), registry::PatchType::kMerge, merge,
                         registry::Subresource::kNone, {});
      if (r.ok() || r.status().code() == absl::StatusCode::kNotFound) return;
    }
    clock.SleepFor(absl::Milliseconds(100));
  }
  BERTH_LOG(Error, "apiserver", "Gave up cleaning up a deleted CRD", "crd", crd.GetString({"metadata", "name"}), "group",
            group, "plural", plural);
}

}  // namespace

absl::Status ApiServer::ServeCustomResources(Parts& p, const Clock& clock) {
  registry::Registry* reg = p.registry.get();
  registry::Catalog* catalog = p.catalog.get();
  p.crd_cleanup = std::make_unique<ThreadPool>(1, "crd-cleanup");
  ThreadPool* cleanup = p.crd_cleanup.get();
  auto follow = [reg, catalog, cleanup, &clock](const registry::ResourceType& type, const json::Value& crd, bool removed) {
    if (!IsCrd(type)) return;
    std::string group = crd.GetString({"spec", "group"});
    std::string plural = crd.GetString({"spec", "names", "plural"});
    std::vector<registry::ResourceType> served = removed ? std::vector<registry::ResourceType>{} : registry::TypesFromCrd(crd);
    // Unlist versions no longer served (all of them when the CRD is gone).
    for (const auto& t : catalog->types()) {
      if (!t->custom || t->group != group || t->plural != plural) continue;
      bool still = std::any_of(served.begin(), served.end(), [&](const auto& s) { return s.version == t->version; });
      if (!still) catalog->Remove(t->group, t->version, t->plural);
    }
    for (auto& t : served) catalog->Add(std::move(t));
    if (!removed && crd.Get({"metadata", "deletionTimestamp"})) {
      cleanup->Submit([reg, catalog, crd, &clock] { CleanUpCrd(*reg, *catalog, crd, clock); });
    }
  };
  reg->AddCommitObserver(follow);
  const registry::ResourceType* crd_type = catalog->FindKind("apiextensions.k8s.io", "CustomResourceDefinition");
  auto existing = reg->List(*crd_type, "", {});
  if (!existing.ok()) return existing.status();
  for (const std::string& item : existing->items) {
    auto crd = json::ParseStored(item);
    if (crd.ok()) follow(*crd_type, *crd, false);
  }
  return absl::OkStatus();
}

namespace {

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

}  // namespace

namespace {

// kube-system/extension-apiserver-authentication with `client-ca-file`, as kube-apiserver
// publishes it: the CA a joining node's own port trusts for the apiserver's client certificate.
absl::Status PublishClientCa(registry::Registry& registry, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(StrCat("--client-ca-file: cannot read ", path));
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const registry::ResourceType* configmaps = registry.catalog().Find("", "v1", "configmaps");
  constexpr char kName[] = "extension-apiserver-authentication";
  json::Value want = json::Value::MakeObject();
  want.Set("apiVersion", "v1");
  want.Set("kind", "ConfigMap");
  want.Ensure({"metadata"}).Set("name", kName);
  want.Ensure({"data"}).Set("client-ca-file", pem);
  auto stored = registry.Get(*configmaps, "kube-system", kName);
  if (!stored.ok()) {
    if (stored.status().code() != absl::StatusCode::kNotFound) return stored.status();
    auto made = registry.Create(*configmaps, "kube-system", std::move(want), {});
    if (!made.ok() && made.status().code() != absl::StatusCode::kAlreadyExists) return made.status();
    return absl::OkStatus();
  }
  BERTH_ASSIGN_OR_RETURN(json::Value current, json::ParseStored(*stored));
  if (current.GetString({"data", "client-ca-file"}) == pem) return absl::OkStatus();
  current.Ensure({"data"}).Set("client-ca-file", pem);
  auto updated = registry.Update(*configmaps, "kube-system", kName, std::move(current), registry::Subresource::kNone, {});
  return updated.ok() ? absl::OkStatus() : updated.status();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(ApiServerOptions options,
                                                           const Clock& clock) {
  // Where pods reach this server: the flag, else a specific address it listens on.
  if (options.advertise_address.empty() && !IsLoopback(options.host) && options.host != "0.0.0.0" &&
      net::ParseIpv4(options.host).ok()) {
    options.advertise_address = options.host;
  }
  if (!options.advertise_address.empty()) {
    auto ip = net::ParseIpv4(options.advertise_address);
    if (!ip.ok() || *ip == 0) {
      return absl::InvalidArgumentError(StrCat("--advertise-address: Invalid value: \"", options.advertise_address,
                                               "\": must be an IPv4 address other than 0.0.0.0"));
    }
  }
  auto p = std::make_unique<Parts>();
  p->options = options;
  p->metrics = std::make_unique<server::Metrics>();
  storage::RocksDbStore* rocks_store = nullptr;
  if (options.data_dir.empty()) {
    p->store = std::make_unique<storage::MemoryStore>(clock, options.retention);
  } else {
    storage::RocksDbOptions ro;
    ro.retention = options.retention;
    ro.compaction_interval = options.compaction_interval;
    BERTH_ASSIGN_OR_RETURN(auto rocks, storage::RocksDbStore::Open(options.data_dir, clock, ro));
    server::Metrics* commit_metrics = p->metrics.get();
    rocks->SetCommitObserver([commit_metrics](size_t batch, double seconds) {
      commit_metrics->ObserveCommit(batch, seconds);
    });
    rocks_store = rocks.get();
    p->store = std::move(rocks);
  }
  storage::EncryptingStore* encrypting = nullptr;
  if (!options.encryption_provider_config.empty()) {
    BERTH_ASSIGN_OR_RETURN(storage::encryption::EncryptionConfig config,
                           storage::encryption::LoadEncryptionConfig(options.encryption_provider_config));
    auto wrapped = std::make_unique<storage::EncryptingStore>(std::move(p->store), config);
    encrypting = wrapped.get();
    p->store = std::move(wrapped);
  }
  BERTH_ASSIGN_OR_RETURN(p->schemas, schema::SchemaSet::Load(EmbeddedSchemas()));
  p->catalog = registry::Catalog::Builtin();
  p->registry = std::make_unique<registry::Registry>(*p->store, *p->catalog, p->schemas, clock);
  if (encrypting != nullptr) {
    BERTH_ASSIGN_OR_RETURN(size_t rewritten, server::RewriteStaleObjects(*encrypting));
    if (rewritten > 0) {
      // The old versions linger in RocksDB's files until compaction: compact now, so plaintext
      // (or the retired key's ciphertext) does not stay on disk. The change log's old entries
      // age out with its retention.
      if (rocks_store != nullptr) BERTH_RETURN_IF_ERROR(rocks_store->CompactFiles());
      BERTH_LOG(Info, "apiserver", "Rewrote objects with the current encryption key", "objects", rewritten);
    }
  }
  if (absl::Status mirrored = p->registry->MirrorAdmissionKinds(); !mirrored.ok()) {
    // An object the store cannot decode (e.g. under a retired encryption key) fails the list:
    // serve anyway, reading those kinds from storage as before, where the failure stays with
    // the requests that meet it.
    BERTH_LOG(Warning, "apiserver", "Admission reads its kinds from storage: they could not be mirrored", "error",
              mirrored.ToString());
  }
  // Upstream's order: LimitRanger defaults requests before quota charges them.
  p->registry->AddAdmissionPlugin(registry::LimitRangerAdmission());
  p->registry->AddAdmissionPlugin(registry::PriorityAdmission());
  p->registry->AddAdmissionPlugin(registry::CertificateSigningRequestAdmission());
  p->registry->AddAdmissionPlugin(registry::ServiceAccountAdmission(!options.service_account_signing_key_file.empty()));
  p->registry->AddAdmissionPlugin(registry::ResourceQuotaAdmission(*p->registry));
  p->registry->AddAdmissionPlugin(registry::QueueHierarchyAdmission());
  registry::PodSecurityConfiguration pod_security;
  if (!options.admission_control_config_file.empty()) {
    std::ifstream in(options.admission_control_config_file, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(StrCat("--admission-control-config-file: cannot read ", options.admission_control_config_file));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto parsed = registry::ParseAdmissionConfiguration(text);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          StrCat("--admission-control-config-file ", options.admission_control_config_file, ": ", parsed.status().message()));
    }
    pod_security = *std::move(parsed);
  }
  p->registry->AddAdmissionPlugin(registry::PodSecurityAdmission(std::move(pod_security)));
  std::shared_ptr<registry::ServiceAllocation> allocation;
  const registry::ResourceType* services = p->catalog->Find("", "v1", "services");
  {
    // ClusterIPs and NodePorts: decided in the Service's own write, rebuilt from what is stored.
    BERTH_ASSIGN_OR_RETURN(registry::ServiceRanges ranges,
                           registry::ParseServiceRanges(options.service_cluster_ip_range, options.service_node_port_range));
    allocation = std::make_shared<registry::ServiceAllocation>(ranges, clock);
    p->registry->AddAdmissionPlugin(allocation);
    p->registry->AddCommitObserver([allocation, services](const registry::ResourceType& type, const json::Value& object, bool removed) {
      if (&type == services) allocation->Observe(object, removed);
    });
    BERTH_ASSIGN_OR_RETURN(registry::ListPage stored, p->registry->List(*services, "", {}));
    for (const std::string& item : stored.items) {
      if (auto svc = json::ParseStored(item); svc.ok()) allocation->Observe(*svc, false);
    }
  }
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    BERTH_RETURN_IF_ERROR(p->registry->EnsureNamespace(ns));
  }
  BERTH_RETURN_IF_ERROR(registry::EnsureSystemPriorityClasses(*p->registry));
  // default/kubernetes at the first address of the range, as kube-apiserver keeps it (its
  // endpoints are not published yet: the apiserver listens on loopback, out of pods' reach).
  if (!p->registry->Get(*services, "default", "kubernetes").ok()) {
    json::Value svc = json::Value::MakeObject();
    svc.Set("apiVersion", "v1");
    svc.Set("kind", "Service");
    json::Value& meta = svc.Ensure({"metadata"});
    meta.Set("name", "kubernetes");
    meta.Set("namespace", "default");
    meta.Ensure({"labels"}).Set("component", "apiserver");
    meta.Ensure({"labels"}).Set("provider", "kubernetes");
    json::Value& spec = svc.Ensure({"spec"});
    spec.Set("clusterIP", net::FormatIpv4(allocation->KubernetesServiceIp()));
    json::Value port = json::Value::MakeObject();
    port.Set("name", "https");
    port.Set("port", 443);
    port.Set("protocol", "TCP");
    port.Set("targetPort", options.port > 0 ? options.port : 6443);
    spec.Set("ports", json::Value(json::Array{std::move(port)}));
    auto made = p->registry->Create(*services, "default", std::move(svc), {});
    if (!made.ok() && made.status().code() != absl::StatusCode::kAlreadyExists) return made.status();
  }

  if (!options.client_ca_file.empty()) BERTH_RETURN_IF_ERROR(PublishClientCa(*p->registry, options.client_ca_file));
  BERTH_RETURN_IF_ERROR(ServeCustomResources(*p, clock));
  watch::WatchCacheOptions wo;
  wo.window_events = options.watch_window_events;
  wo.bookmark_interval = options.bookmark_interval;
  p->watch_cache = std::make_unique<watch::WatchCache>(*p->store, clock, wo);
  watch::WatchCache* cache = p->watch_cache.get();
  server::Metrics* metrics = p->metrics.get();
  cache->SetDeliveryObserver([metrics](double seconds) { metrics->ObserveWatchDelivery(seconds); });
  storage::Store* store = p->store.get();
  p->metrics->SetGaugeFunction("apiserver_registered_watchers", "Open watch streams.",
                               [cache] { return static_cast<double>(cache->watcher_count()); });
  p->metrics->SetGaugeFunction("berth_storage_revision", "The store's current revision.",
                               [store] { return static_cast<double>(store->CurrentRevision()); });
  p->pool = std::make_unique<ThreadPool>(options.work_threads, "api-work");
  p->admission_pool = std::make_unique<ThreadPool>(options.admission_threads, "api-admit");
  p->handler = std::make_unique<server::ApiHandler>(*p->registry, *p->watch_cache, p->schemas,
                                                    *p->metrics, *p->pool, *p->admission_pool, clock);
  p->limiter = std::make_unique<server::InflightLimiter>(options.max_requests_inflight, options.max_mutating_requests_inflight);
  p->handler->SetInflightLimiter(p->limiter.get());
  server::InflightLimiter* limiter = p->limiter.get();
  p->metrics->SetGaugeFunction("apiserver_current_inflight_requests_readonly", "Read-only requests being served.",
                               [limiter] { return static_cast<double>(limiter->readonly_inflight()); });
  p->metrics->SetGaugeFunction("apiserver_current_inflight_requests_mutating", "Mutating requests being served.",
                               [limiter] { return static_cast<double>(limiter->mutating_inflight()); });
  server::SecurityOptions security_options;
  security_options.authorization_mode = options.authorization_mode;
  security_options.token_auth_file = options.token_auth_file;
  security_options.service_account_signing_key_file = options.service_account_signing_key_file;
  security_options.service_account_key_files = options.service_account_key_files;
  security_options.service_account_issuer = options.service_account_issuer;
  security_options.api_audiences = options.api_audiences;
  security_options.service_account_max_token_expiration = options.service_account_max_token_expiration;
  if (!options.audit_log_path.empty()) {
    audit::AuditPolicy policy = audit::DefaultPolicy();
    if (!options.audit_policy_file.empty()) {
      BERTH_ASSIGN_OR_RETURN(policy, audit::LoadPolicyFile(options.audit_policy_file));
    }
    if (options.audit_log_mode != "blocking" && options.audit_log_mode != "batch") {
      return absl::InvalidArgumentError(
          StrCat("--audit-log-mode: Unsupported value: \"", options.audit_log_mode, "\": supported values: \"blocking\", \"batch\""));
    }
    BERTH_ASSIGN_OR_RETURN(std::unique_ptr<audit::AuditFile> file,
                           audit::AuditFile::Open({options.audit_log_path, options.audit_log_maxsize,
                                                   options.audit_log_maxage, options.audit_log_maxbackup,
                                                   options.audit_log_mode == "batch"},
                                                  clock));
    p->handler->SetAuditor(std::make_unique<audit::Auditor>(std::move(policy), std::move(file)));
  } else if (!options.audit_policy_file.empty()) {
    return absl::InvalidArgumentError("--audit-policy-file needs --audit-log-path");
  }
  BERTH_ASSIGN_OR_RETURN(p->security, server::Security::Start(security_options, *p->registry, clock));
  const server::Security* security = p->security.get();
  p->handler->SetAuthentication([security](server::RequestContext& ctx) { return security->Authenticate(ctx); });
  server::Metrics* authz_metrics = p->metrics.get();
  p->handler->AddFilter([security, authz_metrics, &clock](server::RequestContext& ctx) {
    if (!security->enforcing()) return absl::OkStatus();
    auto started = clock.MonotonicNow();
    absl::Status s = security->Authorize(ctx);
    authz_metrics->ObserveAuthorization(std::chrono::duration<double>(clock.MonotonicNow() - started).count());
    return s;
  });
  if (security->enforcing()) {
    p->handler->SetPermits([security](const auth::UserInfo& user, const std::string& verb, const std::string& group,
                                      const std::string& resource, const std::string& name) {
      return security->Decide(auth::ResourceAttributes(user, verb, group, resource, "", name)).allowed();
    });
  }
  p->handler->SetReviewHandler([security](const std::shared_ptr<server::Exchange>& ex, const registry::ResourceType& type) {
    server::ServeReview(*security, ex, type);
  });
  if (const auto* tokens = security->service_account_tokens()) {
    const registry::Registry* registry = p->registry.get();
    server::TokenRequestLimits limits{security->max_token_expiration()};
    p->handler->SetTokenHandler([tokens, limits, registry](const std::shared_ptr<server::Exchange>& ex) {
      server::ServeTokenRequest(*tokens, limits, *registry, ex);
    });
  }

  http::ServerOptions so;
  so.host = options.host;
  so.port = options.port;
  so.threads = options.network_threads;
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    so.tls = http::TlsOptions{options.tls_cert_file, options.tls_key_file, options.client_ca_file};
  } else if (!options.client_ca_file.empty()) {
    return absl::InvalidArgumentError("--client-ca-file needs --tls-cert-file and --tls-private-key-file");
  } else if (!IsLoopback(options.host)) {
    // Plain HTTP carries no identity and no secrecy: it is for tests and development on this
    // machine only.
    return absl::InvalidArgumentError(StrCat("plain HTTP is served on loopback addresses only (--listen ", options.host,
                                             "): drop --insecure-loopback-http"));
  }
  so.error_response = [](int status, std::string message) {
    absl::Status s = status == 413 ? api::RequestEntityTooLarge(message) : api::BadRequest(message);
    return server::ApiHandler::ErrorResponse(s);
  };
  server::ApiHandler* handler = p->handler.get();
  BERTH_ASSIGN_OR_RETURN(p->http, http::StartServer(so, [handler](http::Request r, std::shared_ptr<http::Responder> resp) {
                           handler->Handle(std::move(r), std::move(resp));
                         }));
  // What clients are told to use: the advertised address when there is one (a wildcard
  // listen address names no host), as kube-apiserver answers.
  p->handler->SetServerAddress(
      StrCat(options.advertise_address.empty() ? options.host : options.advertise_address, ":", p->http->port()));
  if (!options.advertise_address.empty()) {
    BERTH_RETURN_IF_ERROR(server::PublishApiServerEndpoints(*p->registry, options.advertise_address, p->http->port()));
  }
  if (!options.kubelet_client_certificate.empty()) {
    p->handler->SetAgentTls({options.kubelet_client_certificate, options.kubelet_client_key});
  }
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(p)));
}

ApiServer::ApiServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Stop() {
  if (parts_ == nullptr || parts_->stopped) return;
  parts_->stopped = true;
  // Watch streams end first, so that the server's graceful stop sends their final chunks.
  parts_->watch_cache->Shutdown();
  parts_->http->Stop();
  parts_->pool.reset();
  parts_->admission_pool.reset();
  parts_->crd_cleanup.reset();
  parts_->http.reset();
  parts_->handler.reset();
  parts_->watch_cache.reset();
  parts_->registry.reset();
  parts_->store.reset();
}

int ApiServer::port() const { return parts_->http ? parts_->http->port() : 0; }

std::string ApiServer::address() const { return StrCat(parts_->options.host, ":", port()); }

}  // namespace berth::apiserver
