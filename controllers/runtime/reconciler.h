#pragma once
// File: controllers/runtime/reconciler.h
// The contract a controller implements (controller-runtime's Reconciler, style.md Sketch B).

#include <stop_token>
#include <string>

#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::controllers {

// No event payload on purpose: reconciliation is level-based; read the state from the cache.
struct Request {
  std::string ns, name;  // ns empty for cluster-scoped kinds
  friend bool operator==(const Request&, const Request&) = default;
  std::string Key() const { return ns.empty() ? name : ns + "/" + name; }
  static Request FromKey(const std::string& key);
};

struct Result {
  absl::Duration requeue_after = absl::ZeroDuration();
};

// Carried out by Controller: never concurrent for one Request; OK with requeue_after 0 ->
// forgotten; OK with requeue_after > 0 -> requeued after it; error -> requeued with per-item
// exponential backoff and logged once. Idempotent; never mutate cached objects.
class Reconciler {
 public:
  virtual ~Reconciler() = default;
  [[nodiscard]] virtual absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) = 0;
};

}  // namespace berth::controllers
