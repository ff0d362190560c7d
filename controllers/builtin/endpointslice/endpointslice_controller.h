#pragma once
// File: controllers/builtin/endpointslice/endpointslice_controller.h
// Keeps each Service's discovery.k8s.io/v1 EndpointSlices equal to its selected pods (slice_plan
// decides; this wires it to the API). A pod change enqueues the Services of its namespace that
// select it, before or after the change; a slice change enqueues its Service. No batching delay
// (Kubernetes' default). Each written slice carries the time of the change that triggered it
// (endpoints.kubernetes.io/last-change-trigger-time), from which proxies measure programming
// latency. Services without a selector, and slices managed by others, are left alone.

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

class EndpointSliceController final : public Reconciler {
 public:
  EndpointSliceController(client::ApiClient& api, Informer& services, Informer& pods, Informer& slices,
                          const Clock& clock = RealClock::Get(), int workers = 2);
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  void EnqueueSelecting(const ObjectPtr& pod);
  void Touch(const std::string& key);  // remembers when the Service's endpoints first changed

  client::ApiClient& api_;
  Informer& services_;
  Informer& pods_;
  Informer& slices_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, absl::Time> triggered_;  // by service key
  struct Unseen {
    std::set<std::string> names;
    absl::Time since;
  };
  std::map<std::string, Unseen> unseen_;  // created slices not yet in the informer, by service key
  Controller controller_;
};

}  // namespace berth::controllers::builtin
