// File: unit/controllers/builtin/nodeipam/cidr_allocator_test.cc
#include "controllers/builtin/nodeipam/cidr_allocator.h"

#include <gtest/gtest.h>

namespace berth::controllers::builtin {
namespace {

net::Ipv4Prefix P(const char* s) { return *net::ParseIpv4Prefix(s); }

TEST(CidrAllocator, HandsOutFreeSubnetsRoundRobin) {
  auto a = CidrAllocator::Create(P("10.244.0.0/22"), 24);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->capacity(), 4u);
  EXPECT_TRUE(a->Occupy(P("10.244.1.0/24")));
  EXPECT_FALSE(a->Occupy(P("10.245.0.0/24")));   // outside
  EXPECT_FALSE(a->Occupy(P("10.244.0.0/25")));   // another size
  EXPECT_EQ(a->Allocate()->ToString(), "10.244.0.0/24");
  EXPECT_EQ(a->Allocate()->ToString(), "10.244.2.0/24");
  a->Release(P("10.244.0.0/24"));
  EXPECT_EQ(a->Allocate()->ToString(), "10.244.3.0/24");  // not the one just freed
  EXPECT_EQ(a->Allocate()->ToString(), "10.244.0.0/24");
  EXPECT_EQ(a->Allocate().status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(CidrAllocator, RefusesMasksThatDoNotFit) {
  EXPECT_FALSE(CidrAllocator::Create(P("10.244.0.0/16"), 16).ok());
  EXPECT_FALSE(CidrAllocator::Create(P("10.244.0.0/16"), 31).ok());
  EXPECT_FALSE(CidrAllocator::Create(P("0.0.0.0/4"), 30).ok());
}

}  // namespace
}  // namespace berth::controllers::builtin
