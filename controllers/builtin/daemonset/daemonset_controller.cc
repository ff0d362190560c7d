#include "controllers/builtin/daemonset/daemonset_controller.h"

#include <functional>
#include <map>

#include "controllers/builtin/common/pods.h"
#include "controllers/builtin/placement/placement.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/intstr/int_or_percent.h"
#include "core/object/template_hash.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {
namespace {

constexpr char kHashLabel[] = "controller-revision-hash";

// The same hash as the Deployment controller's (Kubernetes computes both alike).
std::string TemplateHash(const json::Value& ds) {
  const json::Value* t = ds.Get({"spec", "template"});
  return object::TemplateHash(t ? *t : json::Value::MakeObject());
}

}  // namespace

DaemonSetController::DaemonSetController(client::ApiClient& api, Informer& daemonsets, Informer& nodes,
                                         Informer& pods, const Clock& clock, int workers)
    : api_(api), daemonsets_(daemonsets), nodes_(nodes), pods_(pods), clock_(clock),
      controller_("daemonset", *this, clock, workers) {
  auto enqueue = [this](const ObjectPtr& ds) { controller_.Enqueue(Informer::KeyOf(*ds)); };
  daemonsets_.AddHandlers({enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& ds) { enqueue(ds); }, nullptr});
  auto all = [this](const ObjectPtr&) {
    for (const ObjectPtr& ds : daemonsets_.List()) controller_.Enqueue(Informer::KeyOf(*ds));
  };
  nodes_.AddHandlers({all, [all](const ObjectPtr&, const ObjectPtr& n) { all(n); }, all});
  auto owner = [this](const ObjectPtr& p) {
    std::string uid = ControllerUid(*p);
    if (uid.empty()) return;
    for (const ObjectPtr& ds : daemonsets_.ByIndex("namespace", p->GetString({"metadata", "namespace"}))) {
      if (ds->GetString({"metadata", "uid"}) == uid) controller_.Enqueue(Informer::KeyOf(*ds));
    }
  };
  pods_.AddHandlers({owner, [owner](const ObjectPtr&, const ObjectPtr& p) { owner(p); }, owner});
}

absl::StatusOr<Result> DaemonSetController::Reconcile(const Request& request, std::stop_token) {
  ObjectPtr dsp = daemonsets_.Get(request.Key());
  if (dsp == nullptr || dsp->Get({"metadata", "deletionTimestamp"})) return Result{};
  const json::Value& ds = *dsp;
  const std::string uid = ds.GetString({"metadata", "uid"});
  const std::string hash = TemplateHash(ds);
  const json::Value* tmpl = ds.Get({"spec", "template"});
  json::Value pod_template = tmpl ? *tmpl : json::Value::MakeObject();
  pod_template.Ensure({"metadata", "labels"}).Set(kHashLabel, hash);
  json::Value probe = json::Value::MakeObject();  // the pod as the placement rules see it
  probe.Set("spec", pod_template.Find("spec") ? *pod_template.Find("spec") : json::Value::MakeObject());

  std::map<std::string, std::vector<ObjectPtr>> by_node;
  for (const ObjectPtr& p : pods_.ByIndex("owner", uid)) {
    if (ControllerUid(*p) != uid || !IsPodActive(*p)) continue;
    by_node[p->GetString({"spec", "nodeName"})].push_back(p);
  }
  int64_t desired = 0, scheduled = 0, ready = 0, available = 0, updated = 0, misscheduled = 0;
  int64_t min_ready = IntAt(ds, {"spec", "minReadySeconds"}, 0);
  absl::Time now = clock_.Now();
  std::vector<ObjectPtr> outdated;
  std::set<std::string> node_names;
  for (const ObjectPtr& node : nodes_.List()) {
    std::string name = node->GetString({"metadata", "name"});
    node_names.insert(name);
    // DaemonSet pods stay on nodes that turn NoSchedule; NoExecute taints they do not tolerate evict them.
    bool eligible = PlacementError(probe, *node).empty();
    auto it = by_node.find(name);
    std::vector<ObjectPtr> pods = it == by_node.end() ? std::vector<ObjectPtr>{} : it->second;
    if (!eligible) {
      if (!pods.empty()) misscheduled++;
      bool keep = PlacementError(probe, *node, {"NoExecute"}).empty() &&
                  PlacementError(probe, *node, {}).empty();
      for (const ObjectPtr& p : pods) {
        if (keep) continue;
        absl::Status s = api_.Delete(client::resources::kPods, request.ns, p->GetString({"metadata", "name"}));
        if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
      }
      continue;
    }
    desired++;
    if (pods.empty()) {
      json::Value pod = PodFromTemplate(ds, pod_template);
      pod["spec"].Set("nodeName", name);
      auto r = api_.Create(client::resources::kPods, request.ns, pod);
      if (!r.ok()) return r.status();
      continue;
    }
    scheduled++;
    // More than one pod on a node: keep the newest, delete the rest.
    for (size_t i = 1; i < pods.size(); ++i) {
      absl::Status s = api_.Delete(client::resources::kPods, request.ns, pods[i]->GetString({"metadata", "name"}));
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
    }
    const ObjectPtr& p = pods[0];
    if (IsPodReady(*p)) ready++;
    if (IsPodAvailable(*p, min_ready, now)) available++;
    if (p->GetString({"metadata", "labels", kHashLabel}) == hash) {
      updated++;
    } else {
      outdated.push_back(p);
    }
  }
  // Pods on nodes that no longer exist.
  for (const auto& [node, pods] : by_node) {
    if (node_names.count(node)) continue;
    for (const ObjectPtr& p : pods) {
      absl::Status s = api_.Delete(client::resources::kPods, request.ns, p->GetString({"metadata", "name"}));
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
    }
  }
  if (ds.GetString({"spec", "updateStrategy", "type"}, "RollingUpdate") == "RollingUpdate" && !outdated.empty()) {
    // Kubernetes rounds a DaemonSet's maxUnavailable percentage up.
    int64_t max_unavailable =
        intstr::ScaledValueOr(ds.Get({"spec", "updateStrategy", "rollingUpdate", "maxUnavailable"}), desired, true, 1);
    max_unavailable = std::max<int64_t>(max_unavailable, 1);
    int64_t budget = max_unavailable - (desired - available);
    // Unavailable outdated pods go first: replacing them costs no availability.
    std::stable_sort(outdated.begin(), outdated.end(),
                     [](const ObjectPtr& a, const ObjectPtr& b) { return !IsPodReady(*a) && IsPodReady(*b); });
    for (const ObjectPtr& p : outdated) {
      bool free = !IsPodReady(*p);
      if (!free && budget <= 0) break;
      absl::Status s = api_.Delete(client::resources::kPods, request.ns, p->GetString({"metadata", "name"}));
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
      if (!free) budget--;
    }
  }
  json::Value status = json::Value::MakeObject();
  status.Set("currentNumberScheduled", scheduled);
  status.Set("numberMisscheduled", misscheduled);
  status.Set("desiredNumberScheduled", desired);
  status.Set("numberReady", ready);
  status.Set("observedGeneration", IntAt(ds, {"metadata", "generation"}, 0));
  status.Set("updatedNumberScheduled", updated);
  status.Set("numberAvailable", available);
  status.Set("numberUnavailable", std::max<int64_t>(0, desired - available));
  if (!(ds.Find("status") && *ds.Find("status") == status)) {
    json::Value next = ds;
    next.Set("status", std::move(status));
    next.Ensure({"metadata"}).Erase("resourceVersion");
    auto r = api_.UpdateStatus(client::resources::kDaemonSets, next);
    if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
  }
  return Result{};
}

}  // namespace berth::controllers::builtin
