#include "controllers/examples/taskrun/taskrun_controller.h"

namespace berth::examples {

TaskRunController::TaskRunController(client::ApiClient& api, controllers::Informer& taskruns,
                                     controllers::Informer& pods)
    : api_(api), taskruns_(taskruns), pods_(pods), controller_("taskrun", *this) {
  // Level-based: every change to a TaskRun or to one of its pods just queues the TaskRun.
  auto enqueue = [this](const controllers::ObjectPtr& tr) { controller_.Enqueue(controllers::Informer::KeyOf(*tr)); };
  taskruns_.AddHandlers({enqueue, [enqueue](const auto&, const auto& tr) { enqueue(tr); }, nullptr});
  auto pod_changed = [this](const controllers::ObjectPtr& pod) {
    std::string owner = pod->GetString({"metadata", "labels", kTaskRunLabel});
    if (!owner.empty()) controller_.Enqueue(pod->GetString({"metadata", "namespace"}) + "/" + owner);
  };
  pods_.AddHandlers({pod_changed, [pod_changed](const auto&, const auto& p) { pod_changed(p); }, pod_changed});
}

absl::StatusOr<controllers::Result> TaskRunController::Reconcile(const controllers::Request& request, std::stop_token) {
  controllers::ObjectPtr tr = taskruns_.Get(request.Key());
  if (tr == nullptr) return controllers::Result{};  // deleted: the garbage collector removes its pods
  const json::Value* count_v = tr->Get({"spec", "count"});
  int64_t count = count_v && count_v->is_int() ? count_v->as_int() : 1;

  int64_t succeeded = 0, failed = 0, existing = 0;
  for (const controllers::ObjectPtr& pod : pods_.ByIndex("owner", tr->GetString({"metadata", "uid"}))) {
    ++existing;
    std::string phase = pod->GetString({"status", "phase"});
    if (phase == "Succeeded") ++succeeded;
    if (phase == "Failed") ++failed;
  }
  // Create the pods that are missing (deterministic names make a retry idempotent).
  for (int64_t i = existing; i < count; ++i) {
    json::Value pod = json::Value::MakeObject();
    pod.Set("apiVersion", "v1");
    pod.Set("kind", "Pod");
    json::Value& meta = pod.Ensure({"metadata"});
    meta.Set("name", request.name + "-" + std::to_string(i));
    meta.Ensure({"labels"}).Set(kTaskRunLabel, request.name);
    if (const json::Value* ann = tr->Get({"spec", "podAnnotations"})) meta.Set("annotations", *ann);
    json::Value owner = json::Value::MakeObject();
    owner.Set("apiVersion", kTaskRuns.ApiVersion());
    owner.Set("kind", kTaskRuns.kind);
    owner.Set("name", request.name);
    owner.Set("uid", tr->GetString({"metadata", "uid"}));
    owner.Set("controller", true);
    json::Value refs = json::Value::MakeArray();
    refs.as_array().push_back(std::move(owner));
    meta.Set("ownerReferences", std::move(refs));
    json::Value container = json::Value::MakeObject();
    container.Set("name", "task");
    container.Set("image", tr->GetString({"spec", "image"}));
    if (const json::Value* cmd = tr->Get({"spec", "command"})) container.Set("command", *cmd);
    json::Value containers = json::Value::MakeArray();
    containers.as_array().push_back(std::move(container));
    pod.Ensure({"spec"}).Set("containers", std::move(containers));
    pod["spec"].Set("restartPolicy", "Never");
    auto created = api_.Create(client::resources::kPods, request.ns, pod);
    if (!created.ok() && created.status().code() != absl::StatusCode::kAlreadyExists) return created.status();
  }

  std::string phase = failed > 0 ? "Failed" : (succeeded >= count ? "Succeeded" : "Running");
  json::Value status = json::Value::MakeObject();
  status.Set("phase", phase);
  status.Set("succeeded", succeeded);
  status.Set("failed", failed);
  if (const json::Value* g = tr->Get({"metadata", "generation"})) status.Set("observedGeneration", *g);
  if (tr->Find("status") == nullptr || !(*tr->Find("status") == status)) {
    json::Value next = *tr;
    next.Set("status", std::move(status));
    auto r = api_.UpdateStatus(kTaskRuns, next);
    if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
  }
  return controllers::Result{};
}

}  // namespace berth::examples
