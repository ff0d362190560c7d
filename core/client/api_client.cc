#include "core/client/api_client.h"

#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::client {

namespace resources {
const Resource kNamespaces{"", "v1", "namespaces", false, "Namespace"};
const Resource kPods{"", "v1", "pods", true, "Pod"};
const Resource kNodes{"", "v1", "nodes", false, "Node"};
const Resource kEvents{"", "v1", "events", true, "Event"};
const Resource kConfigMaps{"", "v1", "configmaps", true, "ConfigMap"};
const Resource kSecrets{"", "v1", "secrets", true, "Secret"};
const Resource kServiceAccounts{"", "v1", "serviceaccounts", true, "ServiceAccount"};
const Resource kLeases{"coordination.k8s.io", "v1", "leases", true, "Lease"};
const Resource kDeployments{"apps", "v1", "deployments", true, "Deployment"};
const Resource kReplicaSets{"apps", "v1", "replicasets", true, "ReplicaSet"};
const Resource kDaemonSets{"apps", "v1", "daemonsets", true, "DaemonSet"};
const Resource kJobs{"batch", "v1", "jobs", true, "Job"};
const Resource kCronJobs{"batch", "v1", "cronjobs", true, "CronJob"};
const Resource kPodDisruptionBudgets{"policy", "v1", "poddisruptionbudgets", true, "PodDisruptionBudget"};
const Resource kPriorityClasses{"scheduling.k8s.io", "v1", "priorityclasses", false, "PriorityClass"};
const Resource kResourceQuotas{"", "v1", "resourcequotas", true, "ResourceQuota"};
const Resource kQueues{"scheduling.berth.dev", "v1alpha1", "queues", false, "Queue"};
const Resource kServices{"", "v1", "services", true, "Service"};
const Resource kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", true, "EndpointSlice"};
const Resource kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies", true, "NetworkPolicy"};
const Resource kCertificateSigningRequests{"certificates.k8s.io", "v1", "certificatesigningrequests", false,
                                           "CertificateSigningRequest"};

const std::vector<Resource>& NamespacedBuiltins() {
  static const auto* all = new std::vector<Resource>{kDeployments, kDaemonSets, kCronJobs, kJobs, kReplicaSets, kPods,
                                                     kConfigMaps, kSecrets, kServiceAccounts, kEvents, kLeases,
                                                     kPodDisruptionBudgets, kResourceQuotas, kServices, kEndpointSlices,
                                                     kNetworkPolicies};
  return *all;
}
}  // namespace resources

namespace {

std::string Escape(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

std::string Query(const ListOptions& o) {
  std::string q;
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    q += (q.empty() ? "?" : "&") + std::string(k) + "=" + Escape(v);
  };
  add("labelSelector", o.label_selector);
  add("fieldSelector", o.field_selector);
  if (o.limit > 0) add("limit", std::to_string(o.limit));
  return q;
}

bool Retryable(const absl::Status& s, int http) {
  return s.code() == absl::StatusCode::kUnavailable || http == 429 || (http >= 500 && http != 501);
}

}  // namespace

ApiClient::ApiClient(std::unique_ptr<Transport> transport, const Clock& clock, RetryPolicy retry)
    : transport_(std::move(transport)), clock_(clock), retry_(retry) {}

std::unique_ptr<ApiClient> ApiClient::Connect(const std::string& base_url) {
  return std::make_unique<ApiClient>(NewCpprestTransport(base_url));
}

std::unique_ptr<ApiClient> ApiClient::Connect(const Connection& connection) {
  return std::make_unique<ApiClient>(NewCpprestTransport(connection));
}

std::string ApiClient::Path(const Resource& r, const std::string& ns, const std::string& name,
                            const std::string& subresource) {
  std::string p = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty()) p += "/namespaces/" + Escape(ns);
  p += "/" + r.plural;
  if (!name.empty()) p += "/" + Escape(name);
  if (!subresource.empty()) p += "/" + subresource;
  return p;
}

absl::StatusOr<json::Value> ApiClient::Call(const std::string& method, const std::string& path,
                                            const json::Value* body, const std::string& content_type) {
  std::string payload = body ? json::Serialize(*body) : "";
  absl::Duration backoff = retry_.initial_backoff;
  absl::Status last;
  for (int attempt = 0; attempt < retry_.attempts; ++attempt) {
    if (attempt > 0) {
      clock_.SleepFor(backoff);
      backoff = std::min(backoff * 2, retry_.max_backoff);
    }
    auto r = transport_->Send(method, path, payload, content_type);
    int http = r.ok() ? r->status : 0;
    if (r.ok() && http >= 200 && http < 300) {
      if (r->body.empty()) return json::Value::MakeObject();
      auto v = json::ParseStored(r->body, 512);
      if (!v.ok()) return absl::InternalError(StrCat("undecodable answer to ", method, " ", path));
      return v;
    }
    last = r.ok() ? api::FromHttp(http, r->body) : r.status();
    if (!Retryable(last, http)) return last;
  }
  return last;
}

absl::StatusOr<json::Value> ApiClient::Get(const Resource& r, const std::string& ns, const std::string& name) {
  return Call("GET", Path(r, ns, name), nullptr, "");
}

absl::StatusOr<ObjectList> ApiClient::List(const Resource& r, const std::string& ns, const ListOptions& options) {
  auto v = Call("GET", Path(r, ns) + Query(options), nullptr, "");
  if (!v.ok()) return v.status();
  ObjectList out;
  out.resource_version = v->GetString({"metadata", "resourceVersion"});
  if (json::Value* items = v->Find("items"); items && items->is_array()) {
    for (json::Value& item : items->as_array()) {
      item.Set("apiVersion", r.ApiVersion());
      item.Set("kind", r.kind);
      out.items.push_back(std::move(item));
    }
  }
  return out;
}

absl::StatusOr<json::Value> ApiClient::Create(const Resource& r, const std::string& ns, const json::Value& object) {
  return Call("POST", Path(r, ns), &object, "application/json");
}

absl::StatusOr<json::Value> ApiClient::Update(const Resource& r, const json::Value& object) {
  return Call("PUT", Path(r, object.GetString({"metadata", "namespace"}), object.GetString({"metadata", "name"})),
              &object, "application/json");
}

absl::StatusOr<json::Value> ApiClient::UpdateStatus(const Resource& r, const json::Value& object) {
  return UpdateSubresource(r, object, "status");
}

absl::StatusOr<json::Value> ApiClient::UpdateSubresource(const Resource& r, const json::Value& object,
                                                         const std::string& subresource) {
  return Call("PUT",
              Path(r, object.GetString({"metadata", "namespace"}), object.GetString({"metadata", "name"}), subresource),
              &object, "application/json");
}

absl::StatusOr<json::Value> ApiClient::Patch(const Resource& r, const std::string& ns, const std::string& name,
                                             const json::Value& patch, const std::string& content_type,
                                             const std::string& subresource) {
  return Call("PATCH", Path(r, ns, name, subresource), &patch, content_type);
}

absl::Status ApiClient::Delete(const Resource& r, const std::string& ns, const std::string& name,
                               const json::Value& options) {
  auto v = Call("DELETE", Path(r, ns, name), options.is_null() ? nullptr : &options, "application/json");
  return v.status();
}

absl::StatusOr<json::Value> ApiClient::CreateSubresource(const Resource& r, const std::string& ns, const std::string& name,
                                                         const std::string& subresource, const json::Value& object) {
  return Call("POST", Path(r, ns, name, subresource), &object, "application/json");
}

absl::Status ApiClient::Bind(const std::string& ns, const std::string& pod, const std::string& node) {
  json::Value b = json::Value::MakeObject();
  b.Set("apiVersion", "v1");
  b.Set("kind", "Binding");
  b.Ensure({"metadata"}).Set("name", pod);
  b.Ensure({"metadata"}).Set("namespace", ns);
  b.Ensure({"target"}).Set("kind", "Node");
  b.Ensure({"target"}).Set("name", node);
  return Call("POST", Path(resources::kPods, ns, pod, "binding"), &b, "application/json").status();
}

absl::Status ApiClient::Watch(const Resource& r, const std::string& ns, const ListOptions& options,
                              const std::string& resource_version,
                              const std::function<bool(const WatchEvent&)>& handler,
                              const std::atomic<bool>& cancel, int timeout_seconds) {
  std::string path = Path(r, ns) + Query(options);
  path += (path.find('?') == std::string::npos ? "?" : "&");
  path += "watch=1&allowWatchBookmarks=true&resourceVersion=" + Escape(resource_version);
  if (timeout_seconds > 0) path += "&timeoutSeconds=" + std::to_string(timeout_seconds);
  absl::Status failure;
  auto status = transport_->Stream(path, [&](const std::string& line) {
    auto v = json::ParseStored(line, 512);
    if (!v.ok()) {
      // One undecodable event must not end every watch of the kind (the informer would relist
      // into the same line forever): skip it, say so, and go on with the next.
      BERTH_LOG(Warning, "client", "Skipped an undecodable watch event", "resource", r.plural, "error",
                v.status().ToString());
      return true;
    }
    WatchEvent ev;
    ev.type = v->GetString({"type"});
    if (json::Value* o = v->Find("object")) ev.object = std::move(*o);
    if (ev.type == "ERROR") {
      failure = api::FromHttp(static_cast<int>(ev.object.Find("code") && ev.object.Find("code")->is_int()
                                                   ? ev.object.Find("code")->as_int() : 500),
                              json::Serialize(ev.object));
      return false;
    }
    if (ev.type != "BOOKMARK") {
      ev.object.Set("apiVersion", r.ApiVersion());
      ev.object.Set("kind", r.kind);
    }
    return handler(ev);
  }, cancel);
  if (!failure.ok()) return failure;
  if (!status.ok()) return status.status();
  if (*status != 200) return api::FromHttp(*status, "");
  return absl::OkStatus();
}

}  // namespace berth::client
