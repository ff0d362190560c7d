#include "core/object/conditions.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::object {
namespace {

TEST(ConditionsTest, SetKeepsTransitionTimeWhileTheStatusHolds) {
  json::Value obj = *json::Parse(R"({"status":{}})");
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  EXPECT_TRUE(SetCondition(obj, "Available", "True", "MinimumReplicasAvailable", "ok", t0));
  EXPECT_TRUE(IsConditionTrue(obj, "Available"));
  std::string first = FindCondition(obj, "Available")->GetString({"lastTransitionTime"});
  EXPECT_FALSE(SetCondition(obj, "Available", "True", "MinimumReplicasAvailable", "ok", t0 + absl::Seconds(5)));
  EXPECT_TRUE(SetCondition(obj, "Available", "True", "MinimumReplicasAvailable", "still ok", t0 + absl::Seconds(9)));
  EXPECT_EQ(FindCondition(obj, "Available")->GetString({"lastTransitionTime"}), first);
  EXPECT_TRUE(SetCondition(obj, "Available", "False", "Down", "no", t0 + absl::Seconds(10)));
  EXPECT_NE(FindCondition(obj, "Available")->GetString({"lastTransitionTime"}), first);
  EXPECT_FALSE(IsConditionTrue(obj, "Available"));
  EXPECT_EQ(FindCondition(obj, "Missing"), nullptr);
  EXPECT_EQ(TransitionTime(obj, "Available", "False", "now"), FindCondition(obj, "Available")->GetString({"lastTransitionTime"}));
  EXPECT_EQ(TransitionTime(obj, "Available", "True", "now"), "now");
}

}  // namespace
}  // namespace berth::object
