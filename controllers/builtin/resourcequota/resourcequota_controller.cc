#include "controllers/builtin/resourcequota/resourcequota_controller.h"

#include "core/resource/quota.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {
namespace {

const client::Resource& kQuotas = client::resources::kResourceQuotas;

// Kinds whose objects a quota may count, by the names quotas use for them.
const std::map<std::string, client::Resource>& CountedKinds() {
  static const auto* kinds = new std::map<std::string, client::Resource>{
      {"configmaps", client::resources::kConfigMaps},
      {"secrets", client::resources::kSecrets},
      {"services", {"", "v1", "services", true, "Service"}},
      {"resourcequotas", kQuotas},
      {"count/configmaps", client::resources::kConfigMaps},
      {"count/secrets", client::resources::kSecrets},
      {"count/services", {"", "v1", "services", true, "Service"}},
      {"count/serviceaccounts", client::resources::kServiceAccounts},
      {"count/resourcequotas", kQuotas},
      {"count/deployments.apps", client::resources::kDeployments},
      {"count/replicasets.apps", client::resources::kReplicaSets},
      {"count/daemonsets.apps", client::resources::kDaemonSets},
      {"count/jobs.batch", client::resources::kJobs},
      {"count/cronjobs.batch", client::resources::kCronJobs},
      {"count/poddisruptionbudgets.policy", client::resources::kPodDisruptionBudgets},
  };
  return *kinds;
}

}  // namespace

ResourceQuotaController::ResourceQuotaController(client::ApiClient& api, Informer& quotas, Informer& pods,
                                                 const Clock& clock, int workers, absl::Duration resync)
    : api_(api), quotas_(quotas), pods_(pods), clock_(clock), resync_(resync),
      controller_("resourcequota", *this, clock, workers) {
  auto enqueue = [this](const ObjectPtr& q) { controller_.Enqueue(Informer::KeyOf(*q)); };
  // Status updates are admission charging the quota: recomputing then would race the pod cache.
  quotas_.AddHandlers({enqueue,
                       [enqueue](const ObjectPtr& old_quota, const ObjectPtr& q) {
                         const json::Value* before = old_quota->Find("spec");
                         const json::Value* after = q->Find("spec");
                         if ((before == nullptr) != (after == nullptr) || (before && !(*before == *after))) enqueue(q);
                       },
                       [](const ObjectPtr&) {}});
  // Replenishment only: what admission charged is right until something leaves. Recomputing on
  // additions would race the informer (a pod admitted but not yet in this cache would be
  // uncounted, and the quota would let one more in).
  auto pod_changed = [this](const ObjectPtr& p) { EnqueueNamespace(p->GetString({"metadata", "namespace"})); };
  pods_.AddHandlers({[](const ObjectPtr&) {},
                     [this](const ObjectPtr& old_pod, const ObjectPtr& p) {
                       // Only what frees quota: a pod finishing.
                       std::string phase = p->GetString({"status", "phase"});
                       if (old_pod->GetString({"status", "phase"}) != phase && (phase == "Succeeded" || phase == "Failed")) {
                         EnqueueNamespace(p->GetString({"metadata", "namespace"}));
                       }
                     },
                     pod_changed});
}

void ResourceQuotaController::EnqueueNamespace(const std::string& ns) {
  for (const ObjectPtr& q : quotas_.List()) {
    if (q->GetString({"metadata", "namespace"}) == ns) controller_.Enqueue(Informer::KeyOf(*q));
  }
}

absl::StatusOr<Result> ResourceQuotaController::Reconcile(const Request& request, std::stop_token) {
  ObjectPtr quota = quotas_.Get(request.Key());
  if (quota == nullptr) return Result{};
  std::map<std::string, std::string> hard_text;
  resource::ResourceList hard = resource::QuotaHard(*quota, &hard_text);
  resource::ResourceList used;
  for (const auto& [name, limit] : hard) used[name] = 0;
  for (const ObjectPtr& p : pods_.List()) {
    if (p->GetString({"metadata", "namespace"}) != request.ns) continue;
    std::string phase = p->GetString({"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed") continue;
    if (!resource::QuotaMatchesPod(*quota, *p)) continue;
    for (const auto& [name, milli] : resource::PodQuotaUsage(*p)) {
      if (hard.count(name)) used[name] += milli;
    }
  }
  for (const auto& [name, limit] : hard) {
    auto kind = CountedKinds().find(name);
    if (kind == CountedKinds().end()) continue;
    auto list = api_.List(kind->second, request.ns);
    if (!list.ok()) return list.status();
    used[name] = static_cast<int64_t>(list->items.size()) * 1000;
  }
  json::Value updated = *quota;
  json::Value& status = updated.Ensure({"status"});
  if (const json::Value* h = quota->Get({"spec", "hard"})) status.Set("hard", *h);
  json::Value used_json = json::Value::MakeObject();
  for (const auto& [name, milli] : used) used_json.Set(name, resource::FormatMilli(milli, hard_text[name]));
  status.Set("used", std::move(used_json));
  if (!(updated == *quota)) {
    auto r = api_.UpdateStatus(kQuotas, updated);
    // A conflict means admission charged the quota meanwhile: recompute on the fresh copy.
    if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
  }
  return Result{resync_};
}

}  // namespace berth::controllers::builtin
