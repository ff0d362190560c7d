#include "controllers/builtin/cronjob/cronjob_controller.h"

#include <algorithm>

#include "controllers/builtin/common/pods.h"
#include "core/cron/cron_schedule.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {
namespace {

absl::Time ParseTime(const std::string& s, absl::Time fallback) {
  absl::Time t;
  std::string err;
  return absl::ParseTime(absl::RFC3339_full, s, &t, &err) ? t : fallback;
}

bool Finished(const json::Value& job, std::string* how) {
  for (const char* type : {"Complete", "Failed"}) {
    if (object::IsConditionTrue(job, type)) {
      *how = type;
      return true;
    }
  }
  return false;
}

}  // namespace

CronJobController::CronJobController(client::ApiClient& api, Informer& cronjobs, Informer& jobs, const Clock& clock)
    : api_(api), cronjobs_(cronjobs), jobs_(jobs), clock_(clock), controller_("cronjob", *this, clock, 1) {
  auto enqueue = [this](const ObjectPtr& cj) { controller_.Enqueue(Informer::KeyOf(*cj)); };
  cronjobs_.AddHandlers({enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& cj) { enqueue(cj); }, nullptr});
  auto owner = [this](const ObjectPtr& job) {
    std::string uid = ControllerUid(*job);
    if (uid.empty()) return;
    for (const ObjectPtr& cj : cronjobs_.ByIndex("namespace", job->GetString({"metadata", "namespace"}))) {
      if (cj->GetString({"metadata", "uid"}) == uid) controller_.Enqueue(Informer::KeyOf(*cj));
    }
  };
  jobs_.AddHandlers({owner, [owner](const ObjectPtr&, const ObjectPtr& j) { owner(j); }, owner});
}

absl::StatusOr<Result> CronJobController::Reconcile(const Request& request, std::stop_token) {
  ObjectPtr cjp = cronjobs_.Get(request.Key());
  if (cjp == nullptr || cjp->Get({"metadata", "deletionTimestamp"})) return Result{};
  const json::Value& cj = *cjp;
  const std::string uid = cj.GetString({"metadata", "uid"});
  auto schedule = cron::CronSchedule::Parse(cj.GetString({"spec", "schedule"}));
  if (!schedule.ok()) return Result{};  // the apiserver validates; nothing to do with a bad one
  absl::TimeZone zone = absl::UTCTimeZone();
  if (std::string tz = cj.GetString({"spec", "timeZone"}); !tz.empty() && !absl::LoadTimeZone(tz, &zone)) {
    BERTH_LOG(Warning, "controllers.cronjob", "Unknown time zone", "cronjob", request.Key(), "timeZone", tz);
    return Result{absl::Minutes(5)};
  }
  absl::Time now = clock_.Now();

  std::vector<ObjectPtr> active, succeeded, failed;
  absl::Time last_success = absl::InfinitePast();
  for (const ObjectPtr& job : jobs_.ByIndex("owner", uid)) {
    if (ControllerUid(*job) != uid) continue;
    std::string how;
    if (!Finished(*job, &how)) {
      active.push_back(job);
    } else if (how == "Complete") {
      succeeded.push_back(job);
      last_success = std::max(last_success, ParseTime(job->GetString({"status", "completionTime"}), absl::InfinitePast()));
    } else {
      failed.push_back(job);
    }
  }

  // The most recent missed schedule since the last one we acted on (or since creation).
  absl::Time since = ParseTime(cj.GetString({"status", "lastScheduleTime"}),
                               ParseTime(cj.GetString({"metadata", "creationTimestamp"}), now));
  absl::Time due = absl::InfinitePast();
  for (absl::Time t = schedule->Next(since, zone); t <= now; t = schedule->Next(t, zone)) due = t;
  const json::Value* suspend = cj.Get({"spec", "suspend"});
  bool suspended = suspend && suspend->is_bool() && suspend->as_bool();
  json::Value next = cj;
  json::Value& st = next.Ensure({"status"});
  if (due != absl::InfinitePast() && !suspended) {
    const json::Value* deadline = cj.Get({"spec", "startingDeadlineSeconds"});
    bool too_late = deadline && deadline->is_int() && now - due > absl::Seconds(deadline->as_int());
    std::string policy = cj.GetString({"spec", "concurrencyPolicy"}, "Allow");
    bool skip = too_late || (policy == "Forbid" && !active.empty());
    if (!skip && policy == "Replace") {
      for (const ObjectPtr& job : active) {
        json::Value opts = json::Value::MakeObject();
        opts.Set("propagationPolicy", "Background");
        absl::Status s = api_.Delete(client::resources::kJobs, request.ns, job->GetString({"metadata", "name"}), opts);
        if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
      }
      active.clear();
    }
    if (!skip) {
      json::Value job = json::Value::MakeObject();
      job.Set("apiVersion", "batch/v1");
      job.Set("kind", "Job");
      json::Value meta = cj.Get({"spec", "jobTemplate", "metadata"}) ? *cj.Get({"spec", "jobTemplate", "metadata"})
                                                                      : json::Value::MakeObject();
      meta.Set("name", StrCat(request.name, "-", absl::ToUnixSeconds(due) / 60));
      meta.Set("namespace", request.ns);
      meta.Ensure({"annotations"}).Set("batch.kubernetes.io/cronjob-scheduled-timestamp", FormatRfc3339(due));
      json::Value refs = json::Value::MakeArray();
      refs.as_array().push_back(OwnerReference(cj));
      meta.Set("ownerReferences", std::move(refs));
      job.Set("metadata", std::move(meta));
      if (const json::Value* spec = cj.Get({"spec", "jobTemplate", "spec"})) job.Set("spec", *spec);
      auto r = api_.Create(client::resources::kJobs, request.ns, job);
      if (!r.ok() && r.status().code() != absl::StatusCode::kAlreadyExists) return r.status();
      if (r.ok()) active.push_back(std::make_shared<const json::Value>(*r));
      BERTH_LOG(Info, "controllers.cronjob", "Created job", "cronjob", request.Key(), "scheduled", FormatRfc3339(due));
    }
    st.Set("lastScheduleTime", FormatRfc3339(due));
  }
  // History.
  auto trim = [&](std::vector<ObjectPtr>& jobs, const char* limit_field, int64_t fallback) -> absl::Status {
    const json::Value* l = cj.Get({"spec", limit_field});
    int64_t limit = l && l->is_int() ? l->as_int() : fallback;
    std::sort(jobs.begin(), jobs.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      return a->GetString({"metadata", "creationTimestamp"}) < b->GetString({"metadata", "creationTimestamp"});
    });
    for (size_t i = 0; static_cast<int64_t>(jobs.size() - i) > limit; ++i) {
      json::Value opts = json::Value::MakeObject();
      opts.Set("propagationPolicy", "Background");
      absl::Status s = api_.Delete(client::resources::kJobs, request.ns, jobs[i]->GetString({"metadata", "name"}), opts);
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
    }
    return absl::OkStatus();
  };
  if (absl::Status s = trim(succeeded, "successfulJobsHistoryLimit", 3); !s.ok()) return s;
  if (absl::Status s = trim(failed, "failedJobsHistoryLimit", 1); !s.ok()) return s;

  json::Value refs = json::Value::MakeArray();
  for (const ObjectPtr& job : active) {
    json::Value ref = json::Value::MakeObject();
    ref.Set("kind", "Job");
    ref.Set("namespace", request.ns);
    ref.Set("name", job->GetString({"metadata", "name"}));
    ref.Set("uid", job->GetString({"metadata", "uid"}));
    ref.Set("apiVersion", "batch/v1");
    refs.as_array().push_back(std::move(ref));
  }
  if (refs.size() > 0) {
    st.Set("active", std::move(refs));
  } else {
    st.Erase("active");
  }
  if (last_success != absl::InfinitePast()) st.Set("lastSuccessfulTime", FormatRfc3339(last_success));
  if (!(cj.Find("status") && *cj.Find("status") == st)) {
    next.Ensure({"metadata"}).Erase("resourceVersion");
    auto r = api_.UpdateStatus(client::resources::kCronJobs, next);
    if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) return r.status();
  }
  absl::Time upcoming = schedule->Next(now, zone);
  return Result{std::max(upcoming - now, absl::Milliseconds(100))};
}

}  // namespace berth::controllers::builtin
