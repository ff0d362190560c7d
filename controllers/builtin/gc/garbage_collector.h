#pragma once
// File: controllers/builtin/gc/garbage_collector.h
// Deletes objects whose owners are gone (background propagation), deletes the dependents of an
// owner marked with the foregroundDeletion finalizer before releasing it, and orphans the
// dependents of an owner marked with the orphan finalizer. Works over every kind it is given an
// informer for.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

struct WatchedKind {
  client::Resource resource;
  Informer* informer;
  // Set for kinds added at run time (custom resources): keeps their informer alive while a
  // reconcile still uses it after the kind was removed.
  std::shared_ptr<Informer> owned = nullptr;
};

class GarbageCollector final : public Reconciler {
 public:
  GarbageCollector(client::ApiClient& api, std::vector<WatchedKind> kinds, const Clock& clock = RealClock::Get(),
                   int workers = 2);
  // Keys are "<plural>.<group>|<namespace>/<name>".
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }

  // Kinds that appear at run time (a CustomResourceDefinition was established). The informer
  // must not be started yet: its handlers are added here, then it is started.
  void AddKind(WatchedKind kind);
  // Stops watching a kind (its CRD was deleted); the informer stops once no reconcile uses it.
  void RemoveKind(const std::string& group, const std::string& plural);
  bool Watches(const std::string& group, const std::string& plural) const;

 private:
  using KindPtr = std::shared_ptr<const WatchedKind>;
  void AddHandlers(const WatchedKind& kind);
  KindPtr ByKey(const std::string& kind_key) const;
  KindPtr ByKind(const std::string& api_version, const std::string& kind) const;
  std::vector<KindPtr> Kinds() const;
  std::vector<std::pair<KindPtr, ObjectPtr>> Dependents(const std::string& uid) const;
  void EnqueueDependents(const json::Value& owner);
  absl::StatusOr<bool> OwnerExists(const json::Value& ref, const std::string& ns);
  absl::Status RemoveFinalizer(const WatchedKind& kind, const json::Value& obj, const std::string& finalizer);

  client::ApiClient& api_;
  mutable std::mutex mu_;
  std::vector<KindPtr> kinds_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
