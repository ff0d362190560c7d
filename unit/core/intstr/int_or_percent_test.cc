#include "core/intstr/int_or_percent.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::intstr {
namespace {

TEST(IntOrPercentTest, ScalesLikeKubernetes) {
  EXPECT_EQ(*ScaledValue(json::Value(3), 10, true), 3);
  EXPECT_EQ(*ScaledValue(json::Value("25%"), 10, true), 3);
  EXPECT_EQ(*ScaledValue(json::Value("25%"), 10, false), 2);
  EXPECT_EQ(*ScaledValue(json::Value("0%"), 10, true), 0);
  EXPECT_EQ(*ScaledValue(json::Value("100%"), 7, false), 7);
  EXPECT_EQ(*ScaledValue(json::Value("150%"), 2, true), 3);
}

TEST(IntOrPercentTest, RefusesMalformedValues) {
  for (const char* bad : {"x%", "%", "5", "-5%", "5.5%", "5 %", "", "25%%", "1e2%", "99999999999%"}) {
    EXPECT_FALSE(ValidateIntOrPercent(json::Value(bad)).ok()) << bad;
    EXPECT_FALSE(ScaledValue(json::Value(bad), 10, true).ok()) << bad;
  }
  EXPECT_FALSE(ValidateIntOrPercent(json::Value(-1)).ok());
  EXPECT_FALSE(ValidateIntOrPercent(json::Value(1.5)).ok());
  EXPECT_FALSE(ValidateIntOrPercent(json::Value(int64_t{1} << 40)).ok());
  EXPECT_FALSE(ValidateIntOrPercent(json::Value(true)).ok());
  EXPECT_NE(ValidateIntOrPercent(json::Value("x%")).message().find("numeric string followed by an ending '%'"),
            std::string::npos);
}

TEST(IntOrPercentTest, FallbackForAbsentOrInvalid) {
  EXPECT_EQ(ScaledValueOr(nullptr, 10, true, 1), 1);
  json::Value bad("x%");
  EXPECT_EQ(ScaledValueOr(&bad, 10, true, 1), 1);
}

}  // namespace
}  // namespace berth::intstr
