#pragma once
// File: core/cron/cron_schedule.h
// Standard five-field cron schedules (minute hour day-of-month month day-of-week) with lists,
// ranges, steps, month and weekday names, and the @yearly/@monthly/@weekly/@daily/@hourly
// macros. As in cron, when both day fields are restricted a day matching either one runs.

#include <bitset>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::cron {

class CronSchedule {
 public:
  static absl::StatusOr<CronSchedule> Parse(std::string_view spec);
  // The first time strictly after `after`, in `zone`, on a whole minute; InfiniteFuture if none
  // within five years.
  absl::Time Next(absl::Time after, absl::TimeZone zone) const;

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_; // 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

}  // namespace berth::cron
