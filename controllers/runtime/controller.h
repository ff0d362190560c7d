#pragma once
// File: controllers/runtime/controller.h
// Runs a Reconciler with N workers over a WorkQueue (style.md Sketch B's contract), and counts
// what it does for /metrics-style reporting.

#include <atomic>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "controllers/runtime/reconciler.h"
#include "controllers/runtime/workqueue.h"
#include "core/metrics/histogram.h"
#include "core/time/clock.h"

namespace berth::controllers {

class Controller {
 public:
  Controller(std::string name, Reconciler& reconciler, const Clock& clock = RealClock::Get(),
             int workers = 2, RateLimits limits = {});
  ~Controller();

  WorkQueue& queue() { return queue_; }
  void Enqueue(const std::string& key) { queue_.Add(key); }
  void Start();
  void Stop();

  uint64_t reconciles() const { return reconciles_.load(); }
  uint64_t errors() const { return errors_.load(); }
  const std::string& name() const { return name_; }

  // Prometheus text for a set of controllers: queue depth, reconciles, errors, requeues and
  // reconcile latency, labelled by controller name (client-go's workqueue metric names).
  static std::string RenderMetrics(const std::vector<const Controller*>& controllers);

  // Called on the worker after each failed reconcile (an error or an exception, which the
  // controller contains), e.g. to post a Warning Event on the object. Before Start.
  void OnReconcileFailure(std::function<void(const Request&, const absl::Status&)> fn) { on_failure_ = std::move(fn); }

  // Processes one ready key on the calling thread (tests); false if none was ready.
  bool ProcessOneForTest();

 private:
  void ProcessKey(const std::string& key, std::stop_token stop);
  absl::StatusOr<Result> ReconcileContained(const Request& request, std::stop_token stop);

  const std::string name_;
  Reconciler& reconciler_;
  const Clock& clock_;
  const int workers_;
  WorkQueue queue_;
  std::vector<std::jthread> threads_;
  std::function<void(const Request&, const absl::Status&)> on_failure_;
  std::atomic<uint64_t> reconciles_{0};
  std::atomic<uint64_t> errors_{0};
  metrics::Histogram latency_{metrics::LatencyBounds()};
};

}  // namespace berth::controllers
