// pods/{name}/eviction: Kubernetes' API-initiated eviction (pkg/registry/core/pod/storage/
// eviction.go): a pod is deleted only if its PodDisruptionBudget allows one more disruption.

#include <optional>

#include "absl/strings/numbers.h"

#include "apiserver/registry/registry.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/object/conditions.h"
#include "core/selector/label_selector.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"

namespace berth::apiserver::registry {
namespace {

// At most this many evictions may wait for the disruption controller to see them.
constexpr size_t kMaxDisruptedPods = 2000;
constexpr int kMaxEvictionRetries = 16;

bool Ready(const json::Value& pod) {
  const json::Value* c = object::FindCondition(pod, "Ready");
  return c && c->GetString({"status"}) == "True";
}

int64_t Int(const json::Value& o, std::initializer_list<std::string_view> path) {
  const json::Value* v = o.Get(path);
  return v && v->is_int() ? v->as_int() : 0;
}

DeleteOptions DeleteOptionsOf(const json::Value& eviction, bool dry_run) {
  DeleteOptions d;
  d.dry_run = dry_run;
  const json::Value* o = eviction.Find("deleteOptions");
  if (o == nullptr || !o->is_object()) return d;
  if (const json::Value* g = o->Find("gracePeriodSeconds"); g && g->is_int()) d.grace_period_seconds = g->as_int();
  if (std::string uid = o->GetString({"preconditions", "uid"}); !uid.empty()) d.precondition_uid = uid;
  if (std::string rv = o->GetString({"preconditions", "resourceVersion"}); !rv.empty()) d.precondition_resource_version = rv;
  d.propagation_policy = o->GetString({"propagationPolicy"});
  if (const json::Value* runs = o->Find("dryRun"); runs && runs->is_array() && runs->size() > 0) d.dry_run = true;
  return d;
}

}  // namespace

absl::Status Registry::Evict(const std::string& ns, const std::string& name, const json::Value& eviction, bool dry_run) {
  const ResourceType* pods = catalog_.Find("", "v1", "pods");
  const ResourceType* pdbs = catalog_.Find("policy", "v1", "poddisruptionbudgets");
  if (!eviction.is_object()) return api::BadRequest("the request body must be a policy/v1 Eviction object");
  if (std::string named = eviction.GetString({"metadata", "name"}); !named.empty() && named != name) {
    return api::BadRequest("name in URL does not match name in Eviction object");
  }
  DeleteOptions options = DeleteOptionsOf(eviction, dry_run);
  auto remove = [&]() -> absl::Status { return Delete(*pods, ns, name, options).status(); };

  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(auto current, Read(*pods, ns, name));
    const json::Value& pod = current.first;
    // A pod that is finished, not yet running or already going has caused (or cannot cause)
    // the disruption a budget counts: it is deleted directly.
    std::string phase = pod.GetString({"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed" || phase == "Pending" || pod.Get({"metadata", "deletionTimestamp"})) {
      return remove();
    }
    const json::Value* labels = pod.Get({"metadata", "labels"});
    json::Value no_labels = json::Value::MakeObject();
    BERTH_ASSIGN_OR_RETURN(ListPage page, List(*pdbs, ns, {}));
    std::optional<std::pair<json::Value, uint64_t>> budget;
    int matching = 0;
    for (const std::string& item : page.items) {
      BERTH_ASSIGN_OR_RETURN(json::Value pdb, json::Parse(item));
      const json::Value* sel = pdb.Get({"spec", "selector"});
      if (sel == nullptr || !sel->is_object()) continue;  // a nil selector selects nothing
      auto parsed = selector::LabelSelector::FromObject(*sel);
      if (!parsed.ok() || !parsed->Matches(labels ? *labels : no_labels)) continue;
      ++matching;
      uint64_t rv = 0;
      (void)absl::SimpleAtoi(pdb.GetString({"metadata", "resourceVersion"}), &rv);
      budget.emplace(std::move(pdb), rv);
    }
    if (matching > 1) {
      return api::InternalError("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
    }
    if (!budget) return remove();
    json::Value& pdb = budget->first;
    std::string pdb_name = pdb.GetString({"metadata", "name"});
    int64_t current_healthy = Int(pdb, {"status", "currentHealthy"});
    int64_t desired_healthy = Int(pdb, {"status", "desiredHealthy"});
    if (!Ready(pod)) {
      // An unhealthy pod does not count toward the budget; it may go when the policy says so,
      // or when the budget is met without it.
      if (pdb.GetString({"spec", "unhealthyPodEvictionPolicy"}) == "AlwaysAllow" ||
          (current_healthy >= desired_healthy && desired_healthy > 0)) {
        return remove();
      }
    }
    const char* refused = "Cannot evict pod as it would violate the pod's disruption budget.";
    if (Int(pdb, {"status", "observedGeneration"}) < Int(pdb, {"metadata", "generation"})) {
      return api::TooManyRequests(refused, {{"DisruptionBudget",
                                             StrCat("The disruption budget ", pdb_name, " is still being processed by the server."), ""}});
    }
    int64_t allowed = Int(pdb, {"status", "disruptionsAllowed"});
    if (allowed < 0) return api::Forbidden("pdb disruptions allowed is negative");
    const json::Value* disrupted = pdb.Get({"status", "disruptedPods"});
    if (disrupted && disrupted->size() > kMaxDisruptedPods) {
      return api::Forbidden("DisruptedPods map too big - too many evictions not confirmed by PDB controller");
    }
    if (allowed == 0) {
      return api::TooManyRequests(refused, {{"DisruptionBudget",
                                             StrCat("The disruption budget ", pdb_name, " needs ", desired_healthy,
                                                    " healthy pods and has ", current_healthy, " currently"),
                                             ""}});
    }
    // Take one disruption from the budget before deleting, conditional on the version read: a
    // racing eviction that got there first makes this write conflict, and we read again.
    json::Value& status = pdb.Ensure({"status"});
    status.Set("disruptionsAllowed", allowed - 1);
    json::Value& pods_map = status["disruptedPods"];
    if (!pods_map.is_object()) pods_map = json::Value::MakeObject();
    pods_map.Set(name, FormatRfc3339(clock_.Now()));
    if (allowed - 1 == 0) {
      object::SetCondition(pdb, "DisruptionAllowed", "False", "InsufficientPods", "", clock_.Now());
    }
    if (!options.dry_run) {
      WriteOptions write;
      auto updated = Update(*pdbs, ns, pdb_name, pdb, Subresource::kStatus, write);
      if (!updated.ok()) {
        if (updated.status().code() == absl::StatusCode::kAborted && attempt < kMaxEvictionRetries) continue;
        return updated.status();
      }
    }
    return remove();
  }
}

}  // namespace berth::apiserver::registry
