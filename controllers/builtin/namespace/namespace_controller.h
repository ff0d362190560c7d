#pragma once
// File: controllers/builtin/namespace/namespace_controller.h
// Finishes namespace deletion: once a namespace is Terminating, deletes everything in it
// (every namespaced built-in kind, read live), and when nothing is left clears spec.finalizers through /finalize,
// which removes the namespace.

#include <vector>

#include "controllers/builtin/gc/garbage_collector.h"

namespace berth::controllers::builtin {

class NamespaceController final : public Reconciler {
 public:
  NamespaceController(client::ApiClient& api, Informer& namespaces,
                      std::vector<client::Resource> contents = client::resources::NamespacedBuiltins(),
                      const Clock& clock = RealClock::Get());
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  client::ApiClient& api_;
  Informer& namespaces_;
  std::vector<client::Resource> contents_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
