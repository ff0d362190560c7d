#pragma once
// File: controllers/builtin/gc/garbage_collector.h
// Deletes objects whose owners are gone (background propagation), deletes the dependents of an
// owner marked with the foregroundDeletion finalizer before releasing it, and orphans the
// dependents of an owner marked with the orphan finalizer. Works over every kind it is given an
// informer for.

#include <string>
#include <vector>

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

struct WatchedKind {
  client::Resource resource;
  Informer* informer;
};

class GarbageCollector final : public Reconciler {
 public:
  GarbageCollector(client::ApiClient& api, std::vector<WatchedKind> kinds, const Clock& clock = RealClock::Get(),
                   int workers = 2);
  // Keys are "<plural>|<namespace>/<name>".
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

 private:
  const WatchedKind* ByPlural(const std::string& plural) const;
  const WatchedKind* ByKind(const std::string& api_version, const std::string& kind) const;
  std::vector<std::pair<const WatchedKind*, ObjectPtr>> Dependents(const std::string& uid) const;
  void EnqueueDependents(const json::Value& owner);
  absl::StatusOr<bool> OwnerExists(const json::Value& ref, const std::string& ns);
  absl::Status RemoveFinalizer(const WatchedKind& kind, const json::Value& obj, const std::string& finalizer);

  client::ApiClient& api_;
  std::vector<WatchedKind> kinds_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
