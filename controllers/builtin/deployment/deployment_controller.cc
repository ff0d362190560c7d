#include "controllers/builtin/deployment/deployment_controller.h"

#include <algorithm>
#include <cmath>

#include "controllers/builtin/common/pods.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/selector/label_selector.h"
#include "absl/strings/numbers.h"
#include "core/intstr/int_or_percent.h"
#include "core/object/template_hash.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {
namespace {

constexpr char kHashLabel[] = "pod-template-hash";
constexpr char kRevision[] = "deployment.kubernetes.io/revision";

int64_t Revision(const json::Value& obj) {
  std::string r = obj.GetString({"metadata", "annotations", kRevision});
  int64_t revision = 0;
  return absl::SimpleAtoi(r, &revision) ? revision : 0;
}

// The template as it would be without our hash label: what "the same template" means.
json::Value StripHash(const json::Value& tmpl) {
  json::Value t = tmpl;
  if (json::Value* labels = t.Get({"metadata", "labels"}) ? &t["metadata"]["labels"] : nullptr) labels->Erase(kHashLabel);
  return t;
}

}  // namespace

std::string PodTemplateHash(const json::Value& pod_template, int64_t collision_count) {
  return object::TemplateHash(StripHash(pod_template), collision_count);
}

DeploymentController::DeploymentController(client::ApiClient& api, Informer& deployments, Informer& replicasets,
                                           const Clock& clock, int workers)
    : api_(api), deployments_(deployments), replicasets_(replicasets), clock_(clock),
      controller_("deployment", *this, clock, workers) {
  auto enqueue_d = [this](const ObjectPtr& d) { controller_.Enqueue(Informer::KeyOf(*d)); };
  deployments_.AddHandlers({enqueue_d, [enqueue_d](const ObjectPtr&, const ObjectPtr& d) { enqueue_d(d); }, enqueue_d});
  auto enqueue_owner = [this](const ObjectPtr& rs) {
    std::string owner = ControllerUid(*rs);
    if (owner.empty()) return;
    for (const ObjectPtr& d : deployments_.ByIndex("namespace", rs->GetString({"metadata", "namespace"}))) {
      if (d->GetString({"metadata", "uid"}) == owner) controller_.Enqueue(Informer::KeyOf(*d));
    }
  };
  replicasets_.AddHandlers({enqueue_owner, [enqueue_owner](const ObjectPtr&, const ObjectPtr& rs) { enqueue_owner(rs); },
                            enqueue_owner});
}

absl::Status DeploymentController::ScaleReplicaSet(const json::Value& rs, int64_t replicas,
                                                   const json::Value* annotations) {
  if (IntAt(rs, {"spec", "replicas"}, 0) == replicas && annotations == nullptr) return absl::OkStatus();
  json::Value patch = json::Value::MakeObject();
  patch.Ensure({"spec"}).Set("replicas", replicas);
  if (annotations) patch.Ensure({"metadata"}).Set("annotations", *annotations);
  auto r = api_.Patch(client::resources::kReplicaSets, rs.GetString({"metadata", "namespace"}),
                      rs.GetString({"metadata", "name"}), patch);
  if (r.ok() && events_ && IntAt(rs, {"spec", "replicas"}, 0) != replicas) {
    ObjectPtr owner;
    for (const ObjectPtr& d : deployments_.ByIndex("namespace", rs.GetString({"metadata", "namespace"}))) {
      if (d->GetString({"metadata", "uid"}) == ControllerUid(rs)) owner = d;
    }
    if (owner) {
      bool up = replicas > IntAt(rs, {"spec", "replicas"}, 0);
      events_->Record(*owner, "Normal", "ScalingReplicaSet",
                      StrCat("Scaled ", up ? "up" : "down", " replica set ", rs.GetString({"metadata", "name"}), " from ",
                             IntAt(rs, {"spec", "replicas"}, 0), " to ", replicas));
    }
  }
  return r.status();
}

absl::StatusOr<ObjectPtr> DeploymentController::EnsureNewReplicaSet(const json::Value& d,
                                                                    const std::vector<ObjectPtr>& owned,
                                                                    int64_t replicas, int64_t revision) {
  const json::Value* tmpl = d.Get({"spec", "template"});
  json::Value want = tmpl ? StripHash(*tmpl) : json::Value::MakeObject();
  for (const ObjectPtr& rs : owned) {
    const json::Value* t = rs->Get({"spec", "template"});
    if (t && StripHash(*t) == want) return rs;
  }
  int64_t collisions = IntAt(d, {"status", "collisionCount"}, 0);
  std::string hash = PodTemplateHash(want, collisions);
  json::Value rs = json::Value::MakeObject();
  rs.Set("apiVersion", "apps/v1");
  rs.Set("kind", "ReplicaSet");
  json::Value& meta = rs.Ensure({"metadata"});
  meta.Set("name", d.GetString({"metadata", "name"}) + "-" + hash);
  meta.Set("namespace", d.GetString({"metadata", "namespace"}));
  json::Value labels = want.Get({"metadata", "labels"}) ? *want.Get({"metadata", "labels"}) : json::Value::MakeObject();
  labels.Set(kHashLabel, hash);
  meta.Set("labels", labels);
  meta.Ensure({"annotations"}).Set(kRevision, std::to_string(revision));
  json::Value refs = json::Value::MakeArray();
  refs.as_array().push_back(OwnerReference(d));
  meta.Set("ownerReferences", std::move(refs));
  json::Value& spec = rs.Ensure({"spec"});
  spec.Set("replicas", replicas);
  spec.Set("minReadySeconds", IntAt(d, {"spec", "minReadySeconds"}, 0));
  json::Value selector = d.Get({"spec", "selector"}) ? *d.Get({"spec", "selector"}) : json::Value::MakeObject();
  selector.Ensure({"matchLabels"}).Set(kHashLabel, hash);
  spec.Set("selector", std::move(selector));
  json::Value t = want;
  t.Ensure({"metadata"}).Set("labels", labels);
  spec.Set("template", std::move(t));
  auto created = api_.Create(client::resources::kReplicaSets, d.GetString({"metadata", "namespace"}), rs);
  if (!created.ok()) {
    if (created.status().code() == absl::StatusCode::kAlreadyExists) {
      // A ReplicaSet of that name with another template: bump collisionCount so the next hash differs.
      json::Value st = json::Value::MakeObject();
      st.Ensure({"status"}).Set("collisionCount", collisions + 1);
      (void)api_.Patch(client::resources::kDeployments, d.GetString({"metadata", "namespace"}),
                       d.GetString({"metadata", "name"}), st, "application/merge-patch+json", "status");
    }
    return created.status();
  }
  BERTH_LOG(Info, "controllers.deployment", "Created ReplicaSet", "deployment", Informer::KeyOf(d), "replicaset",
            created->GetString({"metadata", "name"}), "replicas", replicas);
  return std::make_shared<const json::Value>(*std::move(created));
}

absl::StatusOr<Result> DeploymentController::Reconcile(const Request& request, std::stop_token) {
  ObjectPtr dp = deployments_.Get(request.Key());
  if (dp == nullptr || dp->Get({"metadata", "deletionTimestamp"})) return Result{};
  const json::Value& d = *dp;
  const std::string uid = d.GetString({"metadata", "uid"});
  std::vector<ObjectPtr> owned;
  for (const ObjectPtr& rs : replicasets_.ByIndex("owner", uid)) {
    if (ControllerUid(*rs) == uid) owned.push_back(rs);
  }
  int64_t desired = IntAt(d, {"spec", "replicas"}, 1);
  const json::Value* paused_v = d.Get({"spec", "paused"});
  bool paused = paused_v && paused_v->is_bool() && paused_v->as_bool();
  std::string strategy = d.GetString({"spec", "strategy", "type"}, "RollingUpdate");
  int64_t max_surge = intstr::ScaledValueOr(d.Get({"spec", "strategy", "rollingUpdate", "maxSurge"}), desired, true, 1);
  int64_t max_unavailable =
      intstr::ScaledValueOr(d.Get({"spec", "strategy", "rollingUpdate", "maxUnavailable"}), desired, false, 0);
  if (strategy == "Recreate") {
    max_surge = 0;
    max_unavailable = desired;
  }
  if (max_surge == 0 && max_unavailable == 0) max_unavailable = 1;

  int64_t max_revision = 0;
  for (const auto& rs : owned) max_revision = std::max(max_revision, Revision(*rs));

  // The new ReplicaSet: the one whose template is the Deployment's.
  const json::Value* tmpl = d.Get({"spec", "template"});
  json::Value want = tmpl ? StripHash(*tmpl) : json::Value::MakeObject();
  ObjectPtr new_rs;
  std::vector<ObjectPtr> old;
  for (const auto& rs : owned) {
    const json::Value* t = rs->Get({"spec", "template"});
    if (!new_rs && t && StripHash(*t) == want) {
      new_rs = rs;
    } else {
      old.push_back(rs);
    }
  }
  auto spec_replicas = [](const ObjectPtr& rs) { return IntAt(*rs, {"spec", "replicas"}, 0); };
  auto available = [](const ObjectPtr& rs) { return IntAt(*rs, {"status", "availableReplicas"}, 0); };
  int64_t old_total = 0, old_running = 0;
  for (const auto& rs : old) {
    old_total += spec_replicas(rs);
    old_running += IntAt(*rs, {"status", "replicas"}, 0);
  }

  // A ReplicaSet whose status does not yet reflect its spec would make the availability
  // arithmetic below count pods that are already going: wait for it (as Kubernetes does).
  bool statuses_current = true;
  for (const auto& rs : owned) {
    if (IntAt(*rs, {"status", "observedGeneration"}, 0) < IntAt(*rs, {"metadata", "generation"}, 0) ||
        IntAt(*rs, {"status", "replicas"}, 0) != spec_replicas(rs)) {
      statuses_current = false;
    }
  }
  bool hold = !statuses_current && new_rs != nullptr;
  if (!paused && !hold) {
    if (new_rs == nullptr) {
      int64_t start = 0;
      if (strategy == "Recreate") {
        start = old_running == 0 && old_total == 0 ? desired : 0;
      } else {
        start = old.empty() ? desired : std::max<int64_t>(0, std::min(desired, desired + max_surge - old_total));
      }
      if (strategy != "Recreate" || (old_total == 0 && old_running == 0)) {
        auto created = EnsureNewReplicaSet(d, owned, start, max_revision + 1);
        if (!created.ok()) return created.status();
        return Result{};  // the new ReplicaSet's events bring us back
      }
    } else if (Revision(*new_rs) < max_revision) {
      // An older template came back (rollback): it becomes the newest revision.
      json::Value ann = json::Value::MakeObject();
      ann.Set(kRevision, std::to_string(max_revision + 1));
      absl::Status s = ScaleReplicaSet(*new_rs, spec_replicas(new_rs), &ann);
      if (!s.ok()) return s;
      return Result{};
    }
    if (strategy == "Recreate") {
      for (const auto& rs : old) {
        if (spec_replicas(rs) > 0) {
          absl::Status s = ScaleReplicaSet(*rs, 0);
          if (!s.ok()) return s;
        }
      }
      if (old_running == 0 && new_rs && spec_replicas(new_rs) != desired) {
        absl::Status s = ScaleReplicaSet(*new_rs, desired);
        if (!s.ok()) return s;
      }
    } else if (new_rs) {
      // Scale the new ReplicaSet up within the surge budget.
      int64_t total = old_total + spec_replicas(new_rs);
      int64_t new_count = spec_replicas(new_rs);
      if (new_count > desired) {
        new_count = desired;
      } else if (new_count < desired) {
        int64_t room = desired + max_surge - total;
        new_count += std::max<int64_t>(0, std::min(room, desired - new_count));
      }
      if (new_count != spec_replicas(new_rs)) {
        absl::Status s = ScaleReplicaSet(*new_rs, new_count);
        if (!s.ok()) return s;
      }
      // Scale old ReplicaSets down without going below desired - maxUnavailable available.
      int64_t min_available = desired - max_unavailable;
      int64_t new_unavailable = std::max<int64_t>(0, new_count - available(new_rs));
      int64_t all = old_total + new_count;
      int64_t budget = all - min_available - new_unavailable;
      // Old pods that are not available cost nothing to remove.
      std::sort(old.begin(), old.end(), [&](const ObjectPtr& a, const ObjectPtr& b) { return Revision(*a) < Revision(*b); });
      for (const auto& rs : old) {
        if (budget <= 0) break;
        int64_t unhealthy = std::max<int64_t>(0, spec_replicas(rs) - available(rs));
        int64_t cut = std::min(budget, unhealthy);
        if (cut > 0) {
          absl::Status s = ScaleReplicaSet(*rs, spec_replicas(rs) - cut);
          if (!s.ok()) return s;
          budget -= cut;
        }
      }
      int64_t all_available = available(new_rs);
      for (const auto& rs : old) all_available += available(rs);
      int64_t scale_down = std::min(budget, all_available - min_available);
      for (const auto& rs : old) {
        if (scale_down <= 0) break;
        int64_t cur = spec_replicas(rs);
        int64_t cut = std::min(scale_down, cur);
        if (cut > 0) {
          absl::Status s = ScaleReplicaSet(*rs, cur - cut);
          if (!s.ok()) return s;
          scale_down -= cut;
        }
      }
    }
    // History: keep revisionHistoryLimit old ReplicaSets that are scaled to zero.
    int64_t limit = IntAt(d, {"spec", "revisionHistoryLimit"}, 10);
    std::vector<ObjectPtr> idle;
    for (const auto& rs : old) {
      if (spec_replicas(rs) == 0 && IntAt(*rs, {"status", "replicas"}, 0) == 0) idle.push_back(rs);
    }
    std::sort(idle.begin(), idle.end(), [](const ObjectPtr& a, const ObjectPtr& b) { return Revision(*a) < Revision(*b); });
    for (size_t i = 0; static_cast<int64_t>(idle.size() - i) > limit; ++i) {
      json::Value opts = json::Value::MakeObject();
      opts.Set("propagationPolicy", "Background");
      absl::Status s = api_.Delete(client::resources::kReplicaSets, request.ns, idle[i]->GetString({"metadata", "name"}), opts);
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
    }
  } else if (paused && new_rs && spec_replicas(new_rs) != desired && old_total == 0) {
    absl::Status s = ScaleReplicaSet(*new_rs, desired);  // a paused deployment still scales
    if (!s.ok()) return s;
  }

  // Status.
  int64_t replicas = 0, ready = 0, avail = 0;
  for (const auto& rs : owned) {
    replicas += IntAt(*rs, {"status", "replicas"}, 0);
    ready += IntAt(*rs, {"status", "readyReplicas"}, 0);
    avail += available(rs);
  }
  int64_t updated = new_rs ? IntAt(*new_rs, {"status", "replicas"}, 0) : 0;
  json::Value next = d;
  json::Value& st = next.Ensure({"status"});
  st.Set("observedGeneration", IntAt(d, {"metadata", "generation"}, 0));
  st.Set("replicas", replicas);
  st.Set("updatedReplicas", updated);
  st.Set("readyReplicas", ready);
  st.Set("availableReplicas", avail);
  st.Set("unavailableReplicas", std::max<int64_t>(0, desired - avail));
  absl::Time now = clock_.Now();
  bool min_available = avail >= desired - max_unavailable;
  SetCondition(next, "Available", min_available ? "True" : "False",
               min_available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
               min_available ? "Deployment has minimum availability." : "Deployment does not have minimum availability.",
               now);
  bool complete = new_rs && updated == desired && replicas == desired && avail >= desired && old_running == 0;
  std::string new_name = new_rs ? new_rs->GetString({"metadata", "name"}) : "";
  Result result;
  if (paused) {
    SetCondition(next, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now);
  } else if (complete) {
    SetCondition(next, "Progressing", "True", "NewReplicaSetAvailable",
                 StrCat("ReplicaSet \"", new_name, "\" has successfully progressed."), now);
  } else {
    const json::Value* prev = FindCondition(d, "Progressing");
    std::string prev_reason = prev ? prev->GetString({"reason"}) : "";
    int64_t deadline = IntAt(d, {"spec", "progressDeadlineSeconds"}, 600);
    absl::Time since;
    std::string err;
    bool have_since = prev && absl::ParseTime(absl::RFC3339_full, prev->GetString({"lastUpdateTime"}), &since, &err);
    // Progress (any change in counts) restarts the deadline.
    bool progressed = !(d.Get({"status", "updatedReplicas"}) && IntAt(d, {"status", "updatedReplicas"}, -1) == updated &&
                        IntAt(d, {"status", "availableReplicas"}, -1) == avail &&
                        IntAt(d, {"status", "replicas"}, -1) == replicas);
    if (!progressed && have_since && prev_reason != "NewReplicaSetAvailable" && now - since > absl::Seconds(deadline)) {
      SetCondition(next, "Progressing", "False", "ProgressDeadlineExceeded",
                   StrCat("ReplicaSet \"", new_name, "\" has timed out progressing."), now);
    } else {
      if (progressed || prev_reason == "NewReplicaSetAvailable" || prev == nullptr) {
        // Force lastUpdateTime forward: SetCondition keeps it when nothing else changes.
        if (json::Value* c = const_cast<json::Value*>(FindCondition(next, "Progressing"))) c->Set("message", "");
      }
      SetCondition(next, "Progressing", "True", "ReplicaSetUpdated",
                   StrCat("ReplicaSet \"", new_name, "\" is progressing."), now);
      result.requeue_after = absl::Seconds(deadline) + absl::Seconds(1);
    }
  }
  if (!(next.Find("status") && d.Find("status") && *next.Find("status") == *d.Find("status"))) {
    // Status belongs to this controller: write it without a resourceVersion precondition.
    next.Ensure({"metadata"}).Erase("resourceVersion");
    auto r = api_.UpdateStatus(client::resources::kDeployments, next);
    if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
  }
  if (hold) return Result{absl::Milliseconds(200)};
  if (!min_available || !complete) result.requeue_after = std::min(result.requeue_after == absl::ZeroDuration() ? absl::Seconds(5) : result.requeue_after, absl::Seconds(5));
  return result;
}

}  // namespace berth::controllers::builtin
