// File: apiserver/registry/kinds/cronjob/cronjob_strategy.cc
// CronJobs: defaults, and a schedule and time zone that parse.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/pod/pod_defaults.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/cron/cron_schedule.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

class CronJob final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) {
      SetIfAbsent(*spec, "concurrencyPolicy", "Allow");
      SetIfAbsent(*spec, "suspend", false);
      SetIfAbsent(*spec, "successfulJobsHistoryLimit", 3);
      SetIfAbsent(*spec, "failedJobsHistoryLimit", 1);
      if (spec->Get({"jobTemplate", "spec", "template", "spec"}) != nullptr) {
        DefaultPodSpec(spec->Ensure({"jobTemplate", "spec", "template", "spec"}));
      }
    }
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    std::string schedule = object.GetString({"spec", "schedule"});
    if (schedule.rfind("TZ=", 0) == 0 || schedule.rfind("CRON_TZ=", 0) == 0) {
      causes.push_back({"FieldValueInvalid", "Invalid value: TZ and CRON_TZ are not supported in the schedule; use spec.timeZone",
                        "spec.schedule"});
    } else if (auto parsed = cron::CronSchedule::Parse(schedule); !parsed.ok()) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", schedule, "\": ", Sv(parsed.status().message())),
                        "spec.schedule"});
    }
    std::string tz = object.GetString({"spec", "timeZone"});
    absl::TimeZone zone;
    if (!tz.empty() && !absl::LoadTimeZone(tz, &zone)) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", tz, "\": unknown time zone"), "spec.timeZone"});
    }
    return causes;
  }
};

}  // namespace

std::shared_ptr<const Strategy> CronJobStrategy() { return Make<CronJob>(); }

}  // namespace berth::apiserver::registry::kinds
