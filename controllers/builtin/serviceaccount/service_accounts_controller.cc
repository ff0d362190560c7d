#include "controllers/builtin/serviceaccount/service_accounts_controller.h"

#include "core/log/log.h"

namespace berth::controllers::builtin {
namespace {

constexpr char kDefaultServiceAccount[] = "default";
// Upstream's wording, so tools that read it find what they expect.
constexpr char kRootCaDescription[] =
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
    "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
    "clusters.";

absl::Status IgnoreConflicts(const absl::Status& s) {
  // Someone else made it first, or the namespace began terminating: nothing left to do here.
  if (s.ok() || s.code() == absl::StatusCode::kAlreadyExists || s.code() == absl::StatusCode::kNotFound) {
    return absl::OkStatus();
  }
  return s;
}

}  // namespace

ServiceAccountsController::ServiceAccountsController(client::ApiClient& api, Informer& namespaces,
                                                     Informer& service_accounts, Informer& configmaps,
                                                     std::string root_ca_pem, const Clock& clock)
    : api_(api),
      namespaces_(namespaces),
      service_accounts_(service_accounts),
      configmaps_(configmaps),
      root_ca_pem_(std::move(root_ca_pem)),
      controller_("serviceaccount", *this, clock, 1) {
  auto namespace_changed = [this](const ObjectPtr& ns) { controller_.Enqueue(ns->GetString({"metadata", "name"})); };
  namespaces_.AddHandlers({namespace_changed, [namespace_changed](const ObjectPtr&, const ObjectPtr& ns) { namespace_changed(ns); },
                           nullptr});
  // Only the objects this controller owns bring their namespace back to the queue.
  auto owned_changed = [this](const char* name) {
    return [this, name](const ObjectPtr& obj) {
      if (obj->GetString({"metadata", "name"}) == name) controller_.Enqueue(obj->GetString({"metadata", "namespace"}));
    };
  };
  auto sa = owned_changed(kDefaultServiceAccount);
  service_accounts_.AddHandlers({nullptr, nullptr, sa});
  auto cm = owned_changed(kRootCaConfigMap);
  configmaps_.AddHandlers({nullptr, [cm](const ObjectPtr&, const ObjectPtr& obj) { cm(obj); }, cm});
}

absl::Status ServiceAccountsController::EnsureServiceAccount(const std::string& ns) {
  if (service_accounts_.Get(ns + "/" + kDefaultServiceAccount) != nullptr) return absl::OkStatus();
  json::Value sa = json::Value::MakeObject();
  sa.Set("apiVersion", "v1");
  sa.Set("kind", "ServiceAccount");
  sa.Ensure({"metadata"}).Set("name", kDefaultServiceAccount);
  return IgnoreConflicts(api_.Create(client::resources::kServiceAccounts, ns, sa).status());
}

absl::Status ServiceAccountsController::EnsureRootCa(const std::string& ns) {
  if (root_ca_pem_.empty()) return absl::OkStatus();
  ObjectPtr existing = configmaps_.Get(ns + "/" + kRootCaConfigMap);
  if (existing == nullptr) {
    json::Value cm = json::Value::MakeObject();
    cm.Set("apiVersion", "v1");
    cm.Set("kind", "ConfigMap");
    cm.Ensure({"metadata"}).Set("name", kRootCaConfigMap);
    cm["metadata"].Ensure({"annotations"}).Set("kubernetes.io/description", kRootCaDescription);
    cm.Ensure({"data"}).Set("ca.crt", root_ca_pem_);
    return IgnoreConflicts(api_.Create(client::resources::kConfigMaps, ns, cm).status());
  }
  const json::Value* data = existing->Get({"data"});
  if (existing->GetString({"data", "ca.crt"}) == root_ca_pem_ && data != nullptr && data->size() == 1) {
    return absl::OkStatus();
  }
  json::Value next = *existing;
  json::Value fresh = json::Value::MakeObject();
  fresh.Set("ca.crt", root_ca_pem_);
  next.Set("data", std::move(fresh));
  next.Erase("binaryData");
  absl::Status s = api_.Update(client::resources::kConfigMaps, next).status();
  if (s.code() == absl::StatusCode::kAborted) return s;  // a newer version: retried with the cache's
  return IgnoreConflicts(s);
}

absl::StatusOr<Result> ServiceAccountsController::Reconcile(const Request& request, std::stop_token) {
  const std::string ns = request.Key();
  ObjectPtr namespace_object = namespaces_.Get(ns);
  if (namespace_object == nullptr || namespace_object->Get({"metadata", "deletionTimestamp"}) != nullptr ||
      namespace_object->GetString({"status", "phase"}) == "Terminating") {
    return Result{};
  }
  if (absl::Status s = EnsureServiceAccount(ns); !s.ok()) return s;
  if (absl::Status s = EnsureRootCa(ns); !s.ok()) return s;
  return Result{};
}

}  // namespace berth::controllers::builtin
