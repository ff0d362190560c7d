#include "core/time/clock.h"

#include "gtest/gtest.h"

namespace berth {
namespace {

TEST(ClockTest, HumanDurationMatchesKubernetes) {
  EXPECT_EQ(HumanDuration(absl::Seconds(5)), "5s");
  EXPECT_EQ(HumanDuration(absl::Seconds(-1)), "0s");  // skew between machines
  EXPECT_EQ(HumanDuration(absl::Seconds(-5)), "<invalid>");
  EXPECT_EQ(HumanDuration(absl::Seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(absl::Seconds(182)), "3m2s");
  EXPECT_EQ(HumanDuration(absl::Minutes(30)), "30m");
  EXPECT_EQ(HumanDuration(absl::Hours(5) + absl::Minutes(3)), "5h3m");
  EXPECT_EQ(HumanDuration(absl::Hours(30)), "30h");
  EXPECT_EQ(HumanDuration(absl::Hours(48)), "2d");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 30)), "30d");
}

TEST(ClockTest, Rfc3339) {
  EXPECT_EQ(FormatRfc3339(absl::FromUnixSeconds(1767225600)), "2026-01-01T00:00:00Z");
}

}  // namespace
}  // namespace berth
