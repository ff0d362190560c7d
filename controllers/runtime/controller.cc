#include "controllers/runtime/controller.h"

#include "core/log/log.h"

namespace berth::controllers {

Controller::Controller(std::string name, Reconciler& reconciler, const Clock& clock, int workers, RateLimits limits)
    : name_(std::move(name)), reconciler_(reconciler), clock_(clock), workers_(workers), queue_(clock, limits) {}

Controller::~Controller() { Stop(); }

void Controller::Start() {
  for (int i = 0; i < workers_; ++i) {
    threads_.emplace_back([this](std::stop_token stop) {
      while (auto key = queue_.Get()) {
        ProcessKey(*key, stop);
      }
    });
  }
}

void Controller::Stop() {
  queue_.ShutDown();
  for (auto& t : threads_) t.request_stop();
  threads_.clear();  // joins
}

bool Controller::ProcessOneForTest() {
  auto key = queue_.TryGet();
  if (!key) return false;
  ProcessKey(*key, std::stop_token());
  return true;
}

void Controller::ProcessKey(const std::string& key, std::stop_token stop) {
  reconciles_++;
  auto result = reconciler_.Reconcile(Request::FromKey(key), stop);
  if (!result.ok()) {
    errors_++;
    BERTH_LOG(Warning, "controller", "Reconcile failed; requeued with backoff", "controller", name_, "key", key,
              "requeues", queue_.NumRequeues(key), "error", result.status().ToString());
    queue_.AddRateLimited(key);
  } else {
    queue_.Forget(key);
    if (result->requeue_after > absl::ZeroDuration()) queue_.AddAfter(key, result->requeue_after);
  }
  queue_.Done(key);
}

}  // namespace berth::controllers
