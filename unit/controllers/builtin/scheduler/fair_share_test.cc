// Weighted DRF between queues: shares as the DRF paper computes them, weights, hierarchy
// (siblings compared), implicit namespace queues, scarce resources left out, max as a cap.
#include "controllers/builtin/scheduler/fair_share.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"

namespace berth::controllers::builtin {
namespace {

PodRequests Req(int64_t cpu_milli, int64_t memory_gi, int64_t gpus = 0) {
  PodRequests r;
  r.cpu_milli = cpu_milli;
  r.memory_milli = memory_gi * 1024 * 1024 * 1024 * 1000;
  if (gpus) r.scalar["nvidia.com/gpu"] = gpus * 1000;
  return r;
}

QueueSpec Spec(const std::string& json) {
  auto v = json::Parse(json);
  EXPECT_TRUE(v.ok()) << json;
  return QueueSpec::Of(*v);
}

ResourceMilli Capacity(int64_t cpu, int64_t memory_gi, int64_t gpus = 0) {
  ResourceMilli c = FairShare::VectorOf(Req(cpu * 1000, memory_gi));
  if (gpus) c["nvidia.com/gpu"] = gpus * 1000;
  return c;
}

TEST(FairShareTest, DominantSharesOfTheDrfPaperExample) {
  FairShare fs;
  fs.SetCapacity(Capacity(9, 18));
  for (int i = 0; i < 3; ++i) fs.Add("ns/a", Req(1000, 4));
  for (int i = 0; i < 2; ++i) fs.Add("ns/b", Req(3000, 1));
  EXPECT_NEAR(fs.Share("ns/a"), 12.0 / 18, 1e-9);  // memory dominates
  EXPECT_NEAR(fs.Share("ns/b"), 6.0 / 9, 1e-9);    // cpu dominates
  EXPECT_EQ(fs.Before("ns/a", "ns/b"), std::nullopt) << "equal shares: age decides";
  fs.Remove("ns/a", Req(1000, 4));
  EXPECT_EQ(fs.Before("ns/a", "ns/b"), std::optional<bool>(true));
  EXPECT_EQ(fs.Before("ns/b", "ns/a"), std::optional<bool>(false));
}

TEST(FairShareTest, WeightsDivideTheShare) {
  FairShare fs;
  fs.SetQueues({Spec(R"({"metadata":{"name":"a"},"spec":{"weight":1,"namespaceSelector":{"matchLabels":{"team":"a"}}}})"),
                Spec(R"({"metadata":{"name":"b"},"spec":{"weight":2,"namespaceSelector":{"matchLabels":{"team":"b"}}}})")});
  fs.SetCapacity(Capacity(12, 100));
  auto labels = [](const char* team) { return *json::Parse(std::string(R"({"team":")") + team + "\"}"); };
  json::Value a = labels("a"), b = labels("b");
  EXPECT_EQ(fs.QueueOf("team-a", &a), "a");
  EXPECT_EQ(fs.QueueOf("team-b", &b), "b");
  EXPECT_EQ(fs.QueueOf("other", nullptr), "ns/other");
  for (int i = 0; i < 4; ++i) fs.Add("a", Req(1000, 0));
  for (int i = 0; i < 8; ++i) fs.Add("b", Req(1000, 0));
  EXPECT_NEAR(fs.Share("a"), 4.0 / 12, 1e-9);
  EXPECT_NEAR(fs.Share("b"), 8.0 / 12 / 2, 1e-9);
  EXPECT_EQ(fs.PathOf("a"), "root.a");
  EXPECT_EQ(fs.PathOf("ns/other"), "root.ns/other");
}

TEST(FairShareTest, SiblingsAreComparedAtTheLevelWhereTheyDiffer) {
  FairShare fs;
  fs.SetQueues({Spec(R"({"metadata":{"name":"eng"},"spec":{}})"), Spec(R"({"metadata":{"name":"ops"},"spec":{}})"),
                Spec(R"({"metadata":{"name":"team-a"},"spec":{"parent":"eng"}})"),
                Spec(R"({"metadata":{"name":"team-b"},"spec":{"parent":"eng"}})")});
  fs.SetCapacity(Capacity(10, 100));
  fs.Add("team-a", Req(4000, 0));  // eng at 0.4, team-a at 0.4
  fs.Add("ops", Req(3000, 0));     // ops at 0.3
  EXPECT_EQ(fs.PathOf("team-b"), "root.eng.team-b");
  EXPECT_NEAR(fs.Share("eng"), 0.4, 1e-9);
  // team-b is empty, but its parent eng is above ops: ops goes first.
  EXPECT_EQ(fs.Before("ops", "team-b"), std::optional<bool>(true));
  // Within eng, the empty sibling goes first.
  EXPECT_EQ(fs.Before("team-b", "team-a"), std::optional<bool>(true));
}

TEST(FairShareTest, AQueueBelowItsGuaranteeGoesFirstWhateverItsShare) {
  FairShare fs;
  fs.SetQueues({Spec(R"({"metadata":{"name":"new"},"spec":{"guaranteed":{"cpu":"5"}}})"),
                Spec(R"({"metadata":{"name":"old"},"spec":{}})")});
  fs.SetCapacity(Capacity(10, 100));
  fs.Add("new", Req(3000, 0));  // share 0.3, guaranteed 0.5
  fs.Add("old", Req(2000, 0));  // share 0.2
  EXPECT_TRUE(fs.BelowGuarantee("new"));
  EXPECT_EQ(fs.Before("new", "old"), std::optional<bool>(true));
  fs.Add("new", Req(2000, 0));  // at its guarantee: shares decide again
  EXPECT_FALSE(fs.BelowGuarantee("new"));
  EXPECT_EQ(fs.Before("new", "old"), std::optional<bool>(false));
}

TEST(FairShareTest, ScarceResourcesAreLeftOutOfTheShare) {
  FairShare fs;
  fs.SetCapacity(Capacity(10, 100, 2));
  fs.Add("ns/ml", Req(1000, 0, 2));  // every GPU, a tenth of the cpu
  EXPECT_NEAR(fs.Share("ns/ml"), 0.1, 1e-9);
}

TEST(FairShareTest, MaxCapsTheQueueAndItsAncestors) {
  FairShare fs;
  fs.SetQueues({Spec(R"({"metadata":{"name":"eng"},"spec":{"max":{"cpu":"5"}}})"),
                Spec(R"({"metadata":{"name":"a"},"spec":{"parent":"eng","max":{"cpu":"3"}}})"),
                Spec(R"({"metadata":{"name":"b"},"spec":{"parent":"eng"}})")});
  fs.SetCapacity(Capacity(16, 100));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fs.MaxReason("a", Req(1000, 1)), "");
    fs.Add("a", Req(1000, 1));
  }
  EXPECT_EQ(fs.MaxReason("a", Req(1000, 1)), "queue root.eng.a at max: cpu 3/3");
  EXPECT_EQ(fs.MaxReason("b", Req(2000, 1)), "");
  fs.Add("b", Req(2000, 1));
  EXPECT_EQ(fs.MaxReason("b", Req(500, 1)), "queue root.eng at max: cpu 5/5");
  fs.Remove("a", Req(1000, 1));
  EXPECT_EQ(fs.MaxReason("b", Req(500, 1)), "");
}

TEST(FairShareTest, ChangingTheTreeDropsAllocationsForRecharging) {
  FairShare fs;
  fs.SetCapacity(Capacity(10, 10));
  fs.Add("ns/a", Req(5000, 0));
  fs.SetQueues({});
  EXPECT_EQ(fs.Share("ns/a"), 0);
}

}  // namespace
}  // namespace berth::controllers::builtin
