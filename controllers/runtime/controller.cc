#include "controllers/runtime/controller.h"

#include "core/log/log.h"
#include "core/strings/strings.h"

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
  auto started = clock_.MonotonicNow();
  Request request = Request::FromKey(key);
  absl::StatusOr<Result> result = ReconcileContained(request, stop);
  latency_.Observe(std::chrono::duration<double>(clock_.MonotonicNow() - started).count());
  if (!result.ok()) {
    errors_++;
    BERTH_LOG(Warning, "controller", "Reconcile failed; requeued with backoff", "controller", name_, "key", key,
              "requeues", queue_.NumRequeues(key), "error", result.status().ToString());
    if (on_failure_) on_failure_(request, result.status());
    queue_.AddRateLimited(key);
  } else {
    queue_.Forget(key);
    if (result->requeue_after > absl::ZeroDuration()) queue_.AddAfter(key, result->requeue_after);
  }
  queue_.Done(key);
}

absl::StatusOr<Result> Controller::ReconcileContained(const Request& request, std::stop_token stop) {
  // One object that makes a reconciler throw (a value no parser expected) must cost that object
  // a back-off, not the process: every other controller and the scheduler live in it too.
  try {
    return reconciler_.Reconcile(request, stop);
  } catch (const std::exception& e) {
    return absl::InternalError(StrCat("reconcile of ", request.Key(), " threw: ", e.what()));
  } catch (...) {
    return absl::InternalError(StrCat("reconcile of ", request.Key(), " threw a non-standard exception"));
  }
}

std::string Controller::RenderMetrics(const std::vector<const Controller*>& controllers) {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
    for (const Controller* c : controllers) {
      StrAppend(&out, name, "{name=\"", c->name_, "\"} ", value(*c), "\n");
    }
  };
  family("workqueue_depth", "gauge", "Keys ready to be processed.",
         [](const Controller& c) { return static_cast<uint64_t>(c.queue_.Len()); });
  family("berth_controller_reconciles_total", "counter", "Reconcile calls.",
         [](const Controller& c) { return c.reconciles_.load(); });
  family("berth_controller_reconcile_errors_total", "counter", "Reconcile calls that returned an error (requeued).",
         [](const Controller& c) { return c.errors_.load(); });
  StrAppend(&out, "# HELP berth_controller_reconcile_duration_seconds Time spent in Reconcile.\n",
            "# TYPE berth_controller_reconcile_duration_seconds histogram\n");
  for (const Controller* c : controllers) {
    c->latency_.Render(out, "berth_controller_reconcile_duration_seconds", StrCat("name=\"", c->name_, "\""));
  }
  return out;
}

}  // namespace berth::controllers
