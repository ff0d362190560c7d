#include "core/resource/quantity.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::resource {
namespace {

TEST(QuantityTest, KubernetesForms) {
  struct Case {
    const char* in;
    int64_t milli;
  } cases[] = {
      {"0", 0},          {"1", 1000},        {"100m", 100},           {"1.5", 1500},        {"1.", 1000},
      {".5", 500},       {"+2", 2000},       {"-1", -1000},           {"1Ki", 1024000},     {"2Gi", 2147483648000},
      {"500M", 500000000000}, {"1e3", 1000000}, {"1E3", 1000000},     {"1P", 1000000000000000000},
      {"1e-3", 1},       {"1n", 1},          {"250u", 1},             {"1500u", 2},         {"0.1m", 1},
      {"0.0001", 1},     {"12e+2", 1200000}, {"1.5Gi", 1610612736000}, {"000123", 123000},
  };
  for (const Case& c : cases) {
    auto v = ParseMilli(c.in);
    ASSERT_TRUE(v.ok()) << c.in << ": " << v.status();
    EXPECT_EQ(*v, c.milli) << c.in;
  }
}

TEST(QuantityTest, RefusesWhatKubernetesRefuses) {
  for (const char* bad : {"", ".", "+", "-", "1.5.3", "10Gb", "1KiB", "1k1", "e3", "1e", "1e+", "1e3.5", "1 Gi",
                          " 1", "1Mi ", "0x10", "1,5", "Inf", "NaN", "1ee3", "١", "1e99999", "--1", "1..5"}) {
    auto v = ParseMilli(bad);
    ASSERT_FALSE(v.ok()) << "\"" << bad << "\" parsed as " << *v;
    EXPECT_NE(v.status().message().find("quantit"), std::string::npos) << v.status();
  }
}

TEST(QuantityTest, HugeValuesAreAnErrorNotAWrap) {
  EXPECT_FALSE(ParseMilli("9223372036854775807").ok());
  EXPECT_FALSE(ParseMilli("1e30").ok());
  EXPECT_FALSE(ParseMilli("8Ei").ok());  // fits Kubernetes' decimal, not int64 milli-units: refused, not wrapped
  EXPECT_FALSE(ParseMilli("1E").ok());
  EXPECT_FALSE(ParseMilli("99999999999999999999999999999999").ok());  // more digits than kept
  EXPECT_TRUE(ParseMilli("9223372036854775").ok());
}

TEST(QuantityTest, JsonNumbersAndStrings) {
  EXPECT_EQ(*MilliOfValue(*json::Parse("2")), 2000);
  EXPECT_EQ(*MilliOfValue(*json::Parse("0.25")), 250);
  EXPECT_EQ(*MilliOfValue(json::Value("250m")), 250);
  EXPECT_FALSE(MilliOfValue(*json::Parse("1e300")).ok());
  EXPECT_FALSE(MilliOfValue(*json::Parse("true")).ok());
  EXPECT_EQ(MilliOf(nullptr), 0);
  json::Value bad("cpu: .");
  EXPECT_EQ(MilliOf(&bad), 0);
}

}  // namespace
}  // namespace berth::resource
