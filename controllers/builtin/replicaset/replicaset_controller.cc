#include "controllers/builtin/replicaset/replicaset_controller.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "controllers/builtin/common/pods.h"
#include "core/log/log.h"
#include "core/selector/label_selector.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {
namespace {

constexpr int kBurst = 500;  // the most pods created or deleted in one pass

// Lower ranks are deleted first (Kubernetes' ActivePods ordering, simplified): unscheduled,
// then pending, then not ready, then the most recently created.
bool DeleteBefore(const ObjectPtr& a, const ObjectPtr& b) {
  auto rank = [](const json::Value& p) {
    int r = 0;
    if (!p.GetString({"spec", "nodeName"}).empty()) r += 4;
    if (p.GetString({"status", "phase"}) == "Running") r += 2;
    if (IsPodReady(p)) r += 1;
    return r;
  };
  int ra = rank(*a), rb = rank(*b);
  if (ra != rb) return ra < rb;
  return a->GetString({"metadata", "creationTimestamp"}) > b->GetString({"metadata", "creationTimestamp"});
}

}  // namespace

ReplicaSetController::ReplicaSetController(client::ApiClient& api, Informer& replicasets, Informer& pods,
                                           const Clock& clock, int workers)
    : api_(api), replicasets_(replicasets), pods_(pods), clock_(clock), expectations_(clock),
      controller_("replicaset", *this, clock, workers) {
  replicasets_.AddHandlers({
      [this](const ObjectPtr& rs) { controller_.Enqueue(Informer::KeyOf(*rs)); },
      [this](const ObjectPtr&, const ObjectPtr& rs) { controller_.Enqueue(Informer::KeyOf(*rs)); },
      [this](const ObjectPtr& rs) {
        expectations_.Forget(Informer::KeyOf(*rs));
        controller_.Enqueue(Informer::KeyOf(*rs));
      },
  });
  pods_.AddHandlers({
      [this](const ObjectPtr& p) { OnPod(p, true, false); },
      [this](const ObjectPtr& old_pod, const ObjectPtr& p) {
        // Graceful deletion starts with deletionTimestamp: that is when the deletion counts.
        bool deletion_started = old_pod->Get({"metadata", "deletionTimestamp"}) == nullptr &&
                                p->Get({"metadata", "deletionTimestamp"}) != nullptr;
        OnPod(p, false, deletion_started);
        // A pod that changed owner or labels may matter to its former owner too.
        if (ControllerUid(*old_pod) != ControllerUid(*p)) OnPod(old_pod, false, false);
      },
      [this](const ObjectPtr& p) { OnPod(p, false, p->Get({"metadata", "deletionTimestamp"}) == nullptr); },
  });
}

void ReplicaSetController::OnPod(const ObjectPtr& pod, bool created, bool deleted) {
  std::string ns = pod->GetString({"metadata", "namespace"});
  std::string owner = ControllerUid(*pod);
  for (const ObjectPtr& rs : replicasets_.ByIndex("namespace", ns)) {
    std::string key = Informer::KeyOf(*rs);
    if (!owner.empty()) {
      if (rs->GetString({"metadata", "uid"}) != owner) continue;
      if (created) expectations_.CreationObserved(key);
      if (deleted) expectations_.DeletionObserved(key);
      controller_.Enqueue(key);
      return;
    }
    // An orphan: every ReplicaSet whose selector matches may adopt it.
    const json::Value* sel = rs->Get({"spec", "selector"});
    auto parsed = sel ? selector::LabelSelector::FromObject(*sel) : absl::StatusOr<selector::LabelSelector>();
    const json::Value* labels = pod->Get({"metadata", "labels"});
    if (parsed.ok() && !parsed->empty() && parsed->Matches(labels ? *labels : json::Value())) controller_.Enqueue(key);
  }
}

absl::StatusOr<Result> ReplicaSetController::Reconcile(const Request& request, std::stop_token) {
  std::string key = request.Key();
  ObjectPtr rs = replicasets_.Get(key);
  if (rs == nullptr) {
    expectations_.Forget(key);
    return Result{};
  }
  const std::string uid = rs->GetString({"metadata", "uid"});
  auto sel = selector::LabelSelector::FromObject(rs->Get({"spec", "selector"}) ? *rs->Get({"spec", "selector"}) : json::Value());
  if (!sel.ok() || sel->empty()) return Result{};  // invalid selectors are refused by the apiserver

  // Claim: owned pods that still match, plus matching orphans (adopted); release owned pods
  // that stopped matching.
  std::vector<ObjectPtr> owned;
  bool deleting = rs->Get({"metadata", "deletionTimestamp"}) != nullptr;
  for (const ObjectPtr& pod : pods_.ByIndex("namespace", request.ns)) {
    const json::Value* labels = pod->Get({"metadata", "labels"});
    bool matches = sel->Matches(labels ? *labels : json::Value());
    std::string owner = ControllerUid(*pod);
    if (owner == uid) {
      if (matches) {
        owned.push_back(pod);
      } else {
        json::Value patch = json::Value::MakeObject();
        json::Value refs = json::Value::MakeArray();
        if (const json::Value* old = pod->Get({"metadata", "ownerReferences"}); old && old->is_array()) {
          for (const json::Value& r : old->as_array()) {
            if (r.GetString({"uid"}) != uid) refs.as_array().push_back(r);
          }
        }
        patch.Ensure({"metadata"}).Set("ownerReferences", std::move(refs));
        patch.Ensure({"metadata"}).Set("uid", pod->GetString({"metadata", "uid"}));
        auto r = api_.Patch(client::resources::kPods, request.ns, pod->GetString({"metadata", "name"}), patch);
        if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
      }
    } else if (owner.empty() && matches && !deleting && IsPodActive(*pod)) {
      json::Value patch = json::Value::MakeObject();
      json::Value refs = json::Value::MakeArray();
      if (const json::Value* old = pod->Get({"metadata", "ownerReferences"}); old && old->is_array()) refs = *old;
      refs.as_array().push_back(OwnerReference(*rs));
      patch.Ensure({"metadata"}).Set("ownerReferences", std::move(refs));
      patch.Ensure({"metadata"}).Set("uid", pod->GetString({"metadata", "uid"}));  // precondition
      auto r = api_.Patch(client::resources::kPods, request.ns, pod->GetString({"metadata", "name"}), patch);
      if (r.ok()) owned.push_back(std::make_shared<const json::Value>(*r));
    }
  }
  std::vector<ObjectPtr> active;
  for (const auto& p : owned) {
    if (IsPodActive(*p)) active.push_back(p);
  }

  if (expectations_.Satisfied(key) && !deleting) {
    absl::Status s = ManageReplicas(*rs, active, key);
    if (!s.ok()) return s;
  }

  // Status.
  absl::Time now = clock_.Now();
  int64_t min_ready = IntAt(*rs, {"spec", "minReadySeconds"}, 0);
  int64_t ready = 0, available = 0, fully_labeled = 0;
  const json::Value* tmpl_labels = rs->Get({"spec", "template", "metadata", "labels"});
  for (const auto& p : active) {
    if (IsPodReady(*p)) ready++;
    if (IsPodAvailable(*p, min_ready, now)) available++;
    bool full = true;
    if (tmpl_labels && tmpl_labels->is_object()) {
      for (const auto& [k, v] : tmpl_labels->as_object()) {
        const json::Value* have = p->Get({"metadata", "labels", k});
        full = full && have && *have == v;
      }
    }
    if (full) fully_labeled++;
  }
  json::Value status = json::Value::MakeObject();
  status.Set("replicas", static_cast<int64_t>(active.size()));
  status.Set("fullyLabeledReplicas", fully_labeled);
  status.Set("readyReplicas", ready);
  status.Set("availableReplicas", available);
  status.Set("observedGeneration", IntAt(*rs, {"metadata", "generation"}, 0));
  json::Value current = rs->Find("status") ? *rs->Find("status") : json::Value::MakeObject();
  json::Value compare = current;
  compare.Erase("conditions");
  if (!(compare == status)) {
    if (const json::Value* c = current.Find("conditions")) status.Set("conditions", *c);
    json::Value updated = *rs;
    updated.Set("status", std::move(status));
    // Status belongs to this controller: write it without a resourceVersion precondition.
    updated.Ensure({"metadata"}).Erase("resourceVersion");
    auto r = api_.UpdateStatus(client::resources::kReplicaSets, updated);
    if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
  }
  // Pods that become available later change the status without an event of their own.
  if (min_ready > 0 && ready > available) return Result{absl::Seconds(1)};
  return Result{};
}

absl::Status ReplicaSetController::ManageReplicas(const json::Value& rs, const std::vector<ObjectPtr>& active,
                                                  const std::string& key) {
  int64_t want = IntAt(rs, {"spec", "replicas"}, 1);
  int64_t diff = static_cast<int64_t>(active.size()) - want;
  const std::string ns = rs.GetString({"metadata", "namespace"});
  if (diff < 0) {
    int n = static_cast<int>(std::min<int64_t>(-diff, kBurst));
    expectations_.ExpectCreations(key, n);
    const json::Value* tmpl = rs.Get({"spec", "template"});
    json::Value pod = PodFromTemplate(rs, tmpl ? *tmpl : json::Value::MakeObject());
    // Slow start (1, 2, 4, ...): a template that cannot be created fails once, not n times.
    // Each batch's creates go out in parallel (up to 16 at a time), as Kubernetes does.
    int created = 0;
    for (int batch = 1; created < n; batch *= 2) {
      int this_batch = std::min(batch, n - created);
      std::atomic<int> ok{0};
      absl::Status first_error;
      std::mutex err_mu;
      std::atomic<int> next{0};
      std::vector<std::thread> senders;
      for (int t = 0; t < std::min(this_batch, 16); ++t) {
        senders.emplace_back([&] {
          while (next.fetch_add(1) < this_batch) {
            auto r = api_.Create(client::resources::kPods, ns, pod);
            if (r.ok()) {
              ok++;
            } else {
              std::lock_guard<std::mutex> lock(err_mu);
              first_error = r.status();
            }
          }
        });
      }
      for (auto& t : senders) t.join();
      created += ok.load();
      if (!first_error.ok()) {
        expectations_.LowerCreations(key, n - created);
        return first_error;
      }
    }
    BERTH_LOG(Info, "controllers.replicaset", "Created pods", "key", key, "count", created);
    if (events_) events_->Record(rs, "Normal", "SuccessfulCreate", StrCat("Created ", created, " pod(s)"));
  } else if (diff > 0) {
    std::vector<ObjectPtr> victims = active;
    std::sort(victims.begin(), victims.end(), DeleteBefore);
    int n = static_cast<int>(std::min<int64_t>(diff, kBurst));
    expectations_.ExpectDeletions(key, n);
    for (int i = 0; i < n; ++i) {
      json::Value opts = json::Value::MakeObject();
      opts.Ensure({"preconditions"}).Set("uid", victims[i]->GetString({"metadata", "uid"}));
      absl::Status s = api_.Delete(client::resources::kPods, ns, victims[i]->GetString({"metadata", "name"}), opts);
      if (!s.ok()) {
        expectations_.LowerDeletions(key, n - i);
        if (s.code() != absl::StatusCode::kNotFound) return s;
      }
    }
    BERTH_LOG(Info, "controllers.replicaset", "Deleted pods", "key", key, "count", n);
    if (events_) events_->Record(rs, "Normal", "SuccessfulDelete", StrCat("Deleted ", n, " pod(s)"));
  }
  return absl::OkStatus();
}

}  // namespace berth::controllers::builtin
