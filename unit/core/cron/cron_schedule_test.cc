#include "core/cron/cron_schedule.h"

#include "gtest/gtest.h"

namespace berth::cron {
namespace {

absl::Time T(const char* s) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, s, &t, &err)) << err;
  return t;
}
std::string F(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

TEST(CronScheduleTest, EveryMinuteAndSteps) {
  auto every = CronSchedule::Parse("* * * * *");
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(F(every->Next(T("2026-01-01T00:00:30Z"), absl::UTCTimeZone())), "2026-01-01T00:01:00Z");
  auto steps = CronSchedule::Parse("*/15 9-17 * * mon-fri");
  ASSERT_TRUE(steps.ok());
  // 2026-01-03 is a Saturday: the next match is Monday 09:00.
  EXPECT_EQ(F(steps->Next(T("2026-01-02T17:50:00Z"), absl::UTCTimeZone())), "2026-01-05T09:00:00Z");
  EXPECT_EQ(F(steps->Next(T("2026-01-05T09:00:00Z"), absl::UTCTimeZone())), "2026-01-05T09:15:00Z");
}

TEST(CronScheduleTest, MacrosNamesAndDayRules) {
  auto daily = CronSchedule::Parse("@daily");
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ(F(daily->Next(T("2026-03-10T12:00:00Z"), absl::UTCTimeZone())), "2026-03-11T00:00:00Z");
  auto either = CronSchedule::Parse("0 0 13 * fri");  // the 13th OR any Friday
  ASSERT_TRUE(either.ok());
  EXPECT_EQ(F(either->Next(T("2026-02-07T00:00:00Z"), absl::UTCTimeZone())), "2026-02-13T00:00:00Z");
  EXPECT_EQ(F(either->Next(T("2026-02-13T00:00:00Z"), absl::UTCTimeZone())), "2026-02-20T00:00:00Z");
  auto names = CronSchedule::Parse("30 6 1 jan,jul *");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(F(names->Next(T("2026-01-02T00:00:00Z"), absl::UTCTimeZone())), "2026-07-01T06:30:00Z");
  auto sunday = CronSchedule::Parse("0 12 * * 7");
  ASSERT_TRUE(sunday.ok());
  EXPECT_EQ(F(sunday->Next(T("2026-01-01T00:00:00Z"), absl::UTCTimeZone())), "2026-01-04T12:00:00Z");
}

TEST(CronScheduleTest, TimeZones) {
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  auto s = CronSchedule::Parse("0 9 * * *");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(F(s->Next(T("2026-01-01T00:00:00Z"), berlin)), "2026-01-01T08:00:00Z");
}

TEST(CronScheduleTest, RejectsGarbage) {
  EXPECT_FALSE(CronSchedule::Parse("* * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("60 * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("* * * foo *").ok());
  EXPECT_FALSE(CronSchedule::Parse("*/0 * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("5-1 * * * *").ok());
}

}  // namespace
}  // namespace berth::cron
