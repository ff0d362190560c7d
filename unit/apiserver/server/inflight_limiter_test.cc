#include "apiserver/server/inflight_limiter.h"

#include <gtest/gtest.h>

namespace berth::apiserver::server {
namespace {

endpoints::RequestContext Ctx(const std::string& verb, const std::string& sub = "", const std::string& query = "") {
  endpoints::RequestContext ctx;
  ctx.verb = verb;
  ctx.info.is_resource = true;
  ctx.info.plural = "pods";
  ctx.info.subresource = sub;
  if (!query.empty()) ctx.request.query[query] = "true";
  return ctx;
}

TEST(InflightLimiter, RefusesPastEachLimitAndFreesWithTheRequest) {
  InflightLimiter limiter(2, 1);
  auto a = limiter.Admit(Ctx("get"));
  auto b = limiter.Admit(Ctx("list"));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(limiter.Admit(Ctx("get")), nullptr);
  EXPECT_EQ(limiter.readonly_inflight(), 2);
  auto w = limiter.Admit(Ctx("create"));
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(limiter.Admit(Ctx("patch")), nullptr) << "mutating requests have their own limit";
  a.reset();
  EXPECT_EQ(limiter.readonly_inflight(), 1);
  EXPECT_NE(limiter.Admit(Ctx("get")), nullptr);
}

TEST(InflightLimiter, LongRunningRequestsAreNotCounted) {
  InflightLimiter limiter(1, 1);
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(limiter.Admit(Ctx("watch")));
    held.push_back(limiter.Admit(Ctx("get", "log", "follow")));
    held.push_back(limiter.Admit(Ctx("create", "exec")));
    for (const auto& h : held) ASSERT_NE(h, nullptr);
  }
  EXPECT_EQ(limiter.readonly_inflight() + limiter.mutating_inflight(), 0);
  EXPECT_FALSE(InflightLimiter::LongRunning(Ctx("get", "log")));
  EXPECT_NE(limiter.Admit(Ctx("get")), nullptr);
}

TEST(InflightLimiter, ZeroMeansNoLimit) {
  InflightLimiter limiter(0, 0);
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 1000; ++i) held.push_back(limiter.Admit(Ctx("create")));
  for (const auto& h : held) ASSERT_NE(h, nullptr);
}

}  // namespace
}  // namespace berth::apiserver::server
