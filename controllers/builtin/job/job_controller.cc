#include "controllers/builtin/job/job_controller.h"

#include <algorithm>

#include "controllers/builtin/common/pods.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {
namespace {

absl::Time ParseTime(const std::string& s, absl::Time fallback) {
  absl::Time t;
  std::string err;
  return absl::ParseTime(absl::RFC3339_full, s, &t, &err) ? t : fallback;
}

}  // namespace

JobController::JobController(client::ApiClient& api, Informer& jobs, Informer& pods, const Clock& clock, int workers,
                             absl::Duration backoff_base)
    : api_(api), jobs_(jobs), pods_(pods), clock_(clock), backoff_base_(backoff_base), expectations_(clock),
      controller_("job", *this, clock, workers) {
  auto enqueue = [this](const ObjectPtr& j) { controller_.Enqueue(Informer::KeyOf(*j)); };
  jobs_.AddHandlers({enqueue, [enqueue](const ObjectPtr&, const ObjectPtr& j) { enqueue(j); },
                     [this](const ObjectPtr& j) { expectations_.Forget(Informer::KeyOf(*j)); }});
  auto on_pod = [this](const ObjectPtr& p, bool added, bool deleted) {
    std::string owner = ControllerUid(*p);
    if (owner.empty()) return;
    for (const ObjectPtr& j : jobs_.ByIndex("namespace", p->GetString({"metadata", "namespace"}))) {
      if (j->GetString({"metadata", "uid"}) != owner) continue;
      std::string key = Informer::KeyOf(*j);
      if (added) expectations_.CreationObserved(key);
      if (deleted) expectations_.DeletionObserved(key);
      controller_.Enqueue(key);
    }
  };
  pods_.AddHandlers({[on_pod](const ObjectPtr& p) { on_pod(p, true, false); },
                     [on_pod](const ObjectPtr& o, const ObjectPtr& p) {
                       on_pod(p, false, !o->Get({"metadata", "deletionTimestamp"}) && p->Get({"metadata", "deletionTimestamp"}));
                     },
                     [on_pod](const ObjectPtr& p) { on_pod(p, false, !p->Get({"metadata", "deletionTimestamp"})); }});
}

absl::StatusOr<Result> JobController::Reconcile(const Request& request, std::stop_token) {
  std::string key = request.Key();
  ObjectPtr jp = jobs_.Get(key);
  if (jp == nullptr || jp->Get({"metadata", "deletionTimestamp"})) return Result{};
  const json::Value& job = *jp;
  absl::Time now = clock_.Now();
  const std::string uid = job.GetString({"metadata", "uid"});

  std::vector<ObjectPtr> active;
  int64_t succeeded = 0, failed = 0, ready = 0;
  absl::Time last_failure = absl::InfinitePast();
  for (const ObjectPtr& p : pods_.ByIndex("owner", uid)) {
    if (ControllerUid(*p) != uid) continue;
    std::string phase = p->GetString({"status", "phase"});
    if (phase == "Succeeded") {
      succeeded++;
    } else if (phase == "Failed") {
      failed++;
      const json::Value* cs = p->Get({"status", "containerStatuses"});
      std::string finished;
      if (cs && cs->is_array() && !cs->as_array().empty()) {
        finished = cs->as_array()[0].GetString({"state", "terminated", "finishedAt"});
      }
      last_failure = std::max(last_failure, ParseTime(finished, now));
    } else if (!p->Get({"metadata", "deletionTimestamp"})) {
      active.push_back(p);
      if (IsPodReady(*p)) ready++;
    }
  }
  bool finished = object::IsConditionTrue(job, "Complete") || object::IsConditionTrue(job, "Failed");
  json::Value next = job;
  json::Value& st = next.Ensure({"status"});

  if (finished) {
    const json::Value* ttl = job.Get({"spec", "ttlSecondsAfterFinished"});
    if (ttl && ttl->is_int()) {
      absl::Time done = ParseTime(job.GetString({"status", "completionTime"}),
                                  ParseTime(FindCondition(job, object::IsConditionTrue(job, "Complete") ? "Complete" : "Failed")
                                                ->GetString({"lastTransitionTime"}), now));
      absl::Time expiry = done + absl::Seconds(ttl->as_int());
      if (expiry <= now) {
        json::Value opts = json::Value::MakeObject();
        opts.Set("propagationPolicy", "Background");
        opts.Ensure({"preconditions"}).Set("uid", uid);
        absl::Status s = api_.Delete(client::resources::kJobs, request.ns, request.name, opts);
        if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
        return Result{};
      }
      return Result{expiry - now};
    }
    return Result{};
  }

  if (!job.Get({"status", "startTime"})) st.Set("startTime", FormatRfc3339(now));
  absl::Time start = ParseTime(st.GetString({"startTime"}), now);
  const json::Value* completions_v = job.Get({"spec", "completions"});
  bool has_completions = completions_v && completions_v->is_int();
  int64_t completions = has_completions ? completions_v->as_int() : 1;
  int64_t parallelism = IntAt(job, {"spec", "parallelism"}, 1);
  int64_t backoff_limit = IntAt(job, {"spec", "backoffLimit"}, 6);
  const json::Value* deadline = job.Get({"spec", "activeDeadlineSeconds"});
  const json::Value* suspend = job.Get({"spec", "suspend"});
  bool suspended = suspend && suspend->is_bool() && suspend->as_bool();

  std::string fail_reason, fail_message;
  if (failed > backoff_limit) {
    fail_reason = "BackoffLimitExceeded";
    fail_message = "Job has reached the specified backoff limit";
  } else if (deadline && deadline->is_int() && now - start >= absl::Seconds(deadline->as_int())) {
    fail_reason = "DeadlineExceeded";
    fail_message = "Job was active longer than specified deadline";
  }
  bool complete = has_completions ? succeeded >= completions : succeeded > 0 && active.empty();
  Result result;
  if (!fail_reason.empty() || complete || suspended) {
    // Finished or suspended: no pod of this Job keeps running.
    for (const ObjectPtr& p : active) {
      json::Value opts = json::Value::MakeObject();
      opts.Ensure({"preconditions"}).Set("uid", p->GetString({"metadata", "uid"}));
      absl::Status s = api_.Delete(client::resources::kPods, request.ns, p->GetString({"metadata", "name"}), opts);
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound && s.code() != absl::StatusCode::kAborted) return s;
    }
    if (!fail_reason.empty()) {
      if (SetCondition(next, "Failed", "True", fail_reason, fail_message, now) && events_) {
        events_->Record(job, "Warning", fail_reason, fail_message);
      }
    } else if (complete) {
      if (SetCondition(next, "Complete", "True", "", "", now) && events_) {
        events_->Record(job, "Normal", "Completed", "Job completed");
      }
      st.Set("completionTime", FormatRfc3339(now));
    }
    active.clear();
    ready = 0;
  } else if (expectations_.Satisfied(key)) {
    int64_t want = std::min(parallelism, has_completions ? completions - succeeded : parallelism);
    if (!has_completions && succeeded > 0) want = 0;
    want = std::max<int64_t>(want, 0);
    int64_t diff = want - static_cast<int64_t>(active.size());
    if (diff > 0) {
      // Back off after failures: base * 2^(failures-1), as the Job controller does.
      absl::Duration wait = absl::ZeroDuration();
      if (failed > 0 && backoff_base_ > absl::ZeroDuration()) {
        absl::Duration delay = std::min(backoff_base_ * (1 << std::min<int64_t>(failed - 1, 10)), absl::Minutes(6));
        wait = last_failure + delay - now;
      }
      if (wait > absl::ZeroDuration()) {
        result.requeue_after = wait;
      } else {
        const json::Value* tmpl = job.Get({"spec", "template"});
        json::Value pod = PodFromTemplate(job, tmpl ? *tmpl : json::Value::MakeObject());
        expectations_.ExpectCreations(key, static_cast<int>(diff));
        for (int64_t i = 0; i < diff; ++i) {
          auto r = api_.Create(client::resources::kPods, request.ns, pod);
          if (!r.ok()) {
            expectations_.LowerCreations(key, static_cast<int>(diff - i));
            return r.status();
          }
        }
      }
    } else if (diff < 0) {
      std::sort(active.begin(), active.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
        return a->GetString({"metadata", "creationTimestamp"}) > b->GetString({"metadata", "creationTimestamp"});
      });
      expectations_.ExpectDeletions(key, static_cast<int>(-diff));
      for (int64_t i = 0; i < -diff; ++i) {
        absl::Status s = api_.Delete(client::resources::kPods, request.ns, active[i]->GetString({"metadata", "name"}));
        if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
      }
    }
    if (deadline && deadline->is_int()) {
      absl::Duration left = start + absl::Seconds(deadline->as_int()) - now;
      if (result.requeue_after == absl::ZeroDuration() || left < result.requeue_after) result.requeue_after = left + absl::Milliseconds(10);
    }
  }
  st.Set("active", static_cast<int64_t>(active.size()));
  st.Set("ready", ready);
  st.Set("succeeded", succeeded);
  st.Set("failed", failed);
  if (!(job.Find("status") && *job.Find("status") == st)) {
    // Status belongs to this controller: write it without a resourceVersion precondition.
    next.Ensure({"metadata"}).Erase("resourceVersion");
    auto r = api_.UpdateStatus(client::resources::kJobs, next);
    if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound && r.status().code() != absl::StatusCode::kAborted) {
      return r.status();
    }
  }
  return result;
}

}  // namespace berth::controllers::builtin
