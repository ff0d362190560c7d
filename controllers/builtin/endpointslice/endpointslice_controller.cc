// File: controllers/builtin/endpointslice/endpointslice_controller.cc
#include "controllers/builtin/endpointslice/endpointslice_controller.h"

#include "controllers/builtin/endpointslice/slice_plan.h"
#include "core/log/log.h"
#include "core/time/clock.h"

namespace berth::controllers::builtin {
namespace {

std::string ServiceKeyOfSlice(const json::Value& slice) {
  if (slice.GetString({"metadata", "labels", kManagedByLabel}) != kManagedBy) return "";
  std::string service = slice.GetString({"metadata", "labels", kServiceNameLabel});
  if (service.empty()) return "";
  return slice.GetString({"metadata", "namespace"}) + "/" + service;
}

}  // namespace

EndpointSliceController::EndpointSliceController(client::ApiClient& api, Informer& services, Informer& pods, Informer& slices,
                                                 const Clock& clock, int workers)
    : api_(api), services_(services), pods_(pods), slices_(slices), clock_(clock),
      controller_("endpointslice", *this, clock, workers) {
  services_.AddHandlers({[this](const ObjectPtr& s) { Touch(Informer::KeyOf(*s)); },
                         [this](const ObjectPtr&, const ObjectPtr& s) { Touch(Informer::KeyOf(*s)); },
                         [this](const ObjectPtr& s) { Touch(Informer::KeyOf(*s)); }});
  pods_.AddHandlers({[this](const ObjectPtr& p) { EnqueueSelecting(p); },
                     [this](const ObjectPtr& old_pod, const ObjectPtr& p) {
                       EnqueueSelecting(old_pod);
                       EnqueueSelecting(p);
                     },
                     [this](const ObjectPtr& p) { EnqueueSelecting(p); }});
  auto on_slice = [this](const ObjectPtr& s) {
    std::string key = ServiceKeyOfSlice(*s);
    if (!key.empty()) controller_.Enqueue(key);
  };
  slices_.AddHandlers({on_slice, [on_slice](const ObjectPtr&, const ObjectPtr& s) { on_slice(s); }, on_slice});
  slices_.AddIndex("service", [](const json::Value& s) {
    std::string key = ServiceKeyOfSlice(s);
    return key.empty() ? std::vector<std::string>{} : std::vector<std::string>{key};
  });
}

void EndpointSliceController::Touch(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    triggered_.emplace(key, clock_.Now());  // the earliest unprocessed change
  }
  controller_.Enqueue(key);
}

void EndpointSliceController::EnqueueSelecting(const ObjectPtr& pod) {
  if (pod == nullptr) return;
  const std::string ns = pod->GetString({"metadata", "namespace"});
  for (const ObjectPtr& service : services_.List()) {
    if (service->GetString({"metadata", "namespace"}) == ns && ServiceSelects(*service, *pod)) Touch(Informer::KeyOf(*service));
  }
}

absl::StatusOr<Result> EndpointSliceController::Reconcile(const Request& request, std::stop_token) {
  const std::string key = request.Key();
  ObjectPtr service = services_.Get(key);
  std::string trigger;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = triggered_.find(key); it != triggered_.end()) {
      trigger = FormatRfc3339Nano(it->second);
      triggered_.erase(it);
    }
  }
  std::vector<ObjectPtr> owned = slices_.ByIndex("service", key);
  {
    // Slices this controller created that its informer has not seen yet: deciding now would
    // create them again.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = unseen_.find(key);
    if (it != unseen_.end()) {
      for (const ObjectPtr& s : owned) it->second.names.erase(s->GetString({"metadata", "name"}));
      if (it->second.names.empty() || clock_.Now() - it->second.since > absl::Seconds(10)) {
        unseen_.erase(it);
      } else {
        if (!trigger.empty()) triggered_.emplace(key, ParseRfc3339(trigger, clock_.Now()));
        return Result{absl::Milliseconds(50)};
      }
    }
  }
  const json::Value* selector = service ? service->Get({"spec", "selector"}) : nullptr;
  if (service == nullptr || selector == nullptr || !selector->is_object() || selector->size() == 0) {
    // Gone, or no selector: the slices we made are ours to remove (the garbage collector would
    // too, through their owner reference, but not when only the selector went).
    for (const ObjectPtr& s : owned) {
      absl::Status st = api_.Delete(client::resources::kEndpointSlices, request.ns, s->GetString({"metadata", "name"}));
      if (!st.ok() && st.code() != absl::StatusCode::kNotFound) return st;
    }
    return Result{};
  }
  std::vector<ObjectPtr> pods = pods_.List();
  std::vector<const json::Value*> raw_pods;
  for (const ObjectPtr& p : pods) {
    if (p->GetString({"metadata", "namespace"}) == request.ns) raw_pods.push_back(p.get());
  }
  std::vector<const json::Value*> raw_slices;
  for (const ObjectPtr& s : owned) raw_slices.push_back(s.get());
  SlicePlan plan = PlanSlices(*service, DesiredEndpoints(*service, raw_pods), raw_slices, trigger);
  for (const std::string& name : plan.remove) {
    absl::Status st = api_.Delete(client::resources::kEndpointSlices, request.ns, name);
    if (!st.ok() && st.code() != absl::StatusCode::kNotFound) return st;
  }
  for (const json::Value& slice : plan.update) {
    auto st = api_.Update(client::resources::kEndpointSlices, slice);
    if (!st.ok()) return st.status();  // a conflict: decided again on the newer slice
  }
  for (const json::Value& slice : plan.create) {
    auto st = api_.Create(client::resources::kEndpointSlices, request.ns, slice);
    if (!st.ok()) return st.status();
    std::lock_guard<std::mutex> lock(mu_);
    Unseen& u = unseen_[key];
    if (u.names.empty()) u.since = clock_.Now();
    u.names.insert(st->GetString({"metadata", "name"}));
  }
  return Result{};
}

}  // namespace berth::controllers::builtin
