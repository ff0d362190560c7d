// File: unit/core/net/ipv4_test.cc
#include "core/net/ipv4.h"

#include <gtest/gtest.h>

namespace berth::net {
namespace {

TEST(Ipv4, ParsesAndFormats) {
  auto a = ParseIpv4("10.244.1.5");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 0x0af40105u);
  EXPECT_EQ(FormatIpv4(*a), "10.244.1.5");
  for (const char* bad : {"10.244.1", "10.244.1.256", "010.0.0.1", "1.2.3.4.5", "a.b.c.d", "", "1..2.3", " 1.2.3.4"}) {
    EXPECT_FALSE(ParseIpv4(bad).ok()) << bad;
  }
}

TEST(Ipv4, PrefixesRefuseHostBitsAndBadLengths) {
  auto p = ParseIpv4Prefix("10.96.0.0/12");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ToString(), "10.96.0.0/12");
  EXPECT_TRUE(p->Contains(*ParseIpv4("10.111.255.255")));
  EXPECT_FALSE(p->Contains(*ParseIpv4("10.112.0.0")));
  EXPECT_EQ(p->size(), 1u << 20);
  EXPECT_FALSE(ParseIpv4Prefix("10.244.0.1/16").ok());
  EXPECT_EQ(ParseIpv4Prefix("10.244.0.1/16", true)->ToString(), "10.244.0.0/16");
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "x/8"}) {
    EXPECT_FALSE(ParseIpv4Prefix(bad).ok()) << bad;
  }
  EXPECT_TRUE(ParseIpv4Prefix("10.244.0.0/16")->Overlaps(*ParseIpv4Prefix("10.244.3.0/24")));
  EXPECT_FALSE(ParseIpv4Prefix("10.244.0.0/16")->Overlaps(*ParseIpv4Prefix("10.96.0.0/12")));
}

}  // namespace
}  // namespace berth::net
