// Preemption for a queue's sake: reclaim of a guarantee (never below the giver's own), and
// fair-share preemption (below now, not above after; compared where the queues' paths part).
#include "controllers/builtin/scheduler/queue_preemption.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"

namespace berth::controllers::builtin {
namespace {

ResourceMilli Cpu(int64_t cores) { return {{"cpu", cores * 1000}}; }

PodRequests Req(int64_t cores) {
  PodRequests r;
  r.cpu_milli = cores * 1000;
  return r;
}

QueueSpec Spec(const std::string& text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return QueueSpec::Of(*v);
}

FairShare Cluster(std::vector<QueueSpec> queues, int64_t cores) {
  FairShare fs;
  fs.SetQueues(std::move(queues));
  fs.SetCapacity(Cpu(cores));
  return fs;
}

TEST(QueueVictimRuleTest, ReclaimTakesOnlyWhatIsAboveTheGiversGuarantee) {
  FairShare fs = Cluster({Spec(R"({"metadata":{"name":"new"},"spec":{"guaranteed":{"cpu":"5"}}})"),
                          Spec(R"({"metadata":{"name":"old"},"spec":{"guaranteed":{"cpu":"2"}}})")},
                         10);
  for (int i = 0; i < 8; ++i) fs.Add("old", Req(1));
  auto rule = QueueVictimRule::Reclaim(fs, "new", Cpu(1), {});
  ASSERT_TRUE(rule.has_value());
  EXPECT_TRUE(rule->MayTake("old", Cpu(1)));
  EXPECT_FALSE(rule->MayTake("new", Cpu(1))) << "never from itself";
  EXPECT_TRUE(rule->MayTakeAll({{"old", Cpu(6)}}));
  EXPECT_FALSE(rule->MayTakeAll({{"old", Cpu(7)}})) << "old's guarantee is 2 of its 8";
  // Pods already leaving no longer count as old's.
  auto leaving = QueueVictimRule::Reclaim(fs, "new", Cpu(1), {{"old", Cpu(5)}});
  ASSERT_TRUE(leaving.has_value());
  EXPECT_TRUE(leaving->MayTakeAll({{"old", Cpu(1)}}));
  EXPECT_FALSE(leaving->MayTakeAll({{"old", Cpu(2)}}));
  // At its guarantee with the pod? A sixth core is beyond it: no reclaim.
  for (int i = 0; i < 5; ++i) fs.Add("new", Req(1));
  EXPECT_FALSE(QueueVictimRule::Reclaim(fs, "new", Cpu(1), {}).has_value());
  EXPECT_FALSE(QueueVictimRule::Reclaim(fs, "ns/other", Cpu(1), {}).has_value()) << "no guarantee, nothing to reclaim";
}

TEST(QueueVictimRuleTest, FairnessTakesUntilTheSharesMeet) {
  FairShare fs = Cluster({}, 8);
  for (int i = 0; i < 8; ++i) fs.Add("ns/b", Req(1));
  // a holds nothing: a 2-core pod may take two of b's cores (a 2/8 <= b 6/8), not three pods'
  // worth in one go past the meeting point.
  auto rule = QueueVictimRule::Fairness(fs, "ns/a", Cpu(2), {}, {});
  ASSERT_TRUE(rule.has_value());
  EXPECT_TRUE(rule->MayTake("ns/b", Cpu(1)));
  EXPECT_TRUE(rule->MayTakeAll({{"ns/b", Cpu(2)}}));
  EXPECT_TRUE(rule->MayTakeAll({{"ns/b", Cpu(3)}}));
  EXPECT_FALSE(rule->MayTakeAll({{"ns/b", Cpu(7)}})) << "a 2/8 would be above b 1/8";
  // a's earlier preemptor, nominated but not bound, counts as a's: 4 <= 4 still holds.
  auto second = QueueVictimRule::Fairness(fs, "ns/a", Cpu(2), Cpu(2), {{"ns/b", Cpu(2)}});
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->MayTakeAll({{"ns/b", Cpu(2)}}));
  EXPECT_FALSE(second->MayTakeAll({{"ns/b", Cpu(3)}}));
  // Once they meet (a 4, b 4), neither takes from the other: no trading back and forth.
  fs.Add("ns/a", Req(2));
  fs.Add("ns/a", Req(2));
  for (int i = 0; i < 4; ++i) fs.Remove("ns/b", Req(1));
  EXPECT_FALSE(QueueVictimRule::Fairness(fs, "ns/a", Cpu(2), {}, {}).has_value());
  EXPECT_FALSE(QueueVictimRule::Fairness(fs, "ns/b", Cpu(1), {}, {}).has_value());
  // Slightly below, but the pod would overshoot: a 3 + 2 > b 5 - 2.
  fs.Remove("ns/a", Req(2));
  fs.Add("ns/a", Req(1));
  fs.Add("ns/b", Req(1));
  auto over = QueueVictimRule::Fairness(fs, "ns/a", Cpu(2), {}, {});
  ASSERT_TRUE(over.has_value());
  EXPECT_FALSE(over->MayTake("ns/b", Cpu(2)));
  EXPECT_FALSE(over->MayTakeAll({{"ns/b", Cpu(2)}}));
  EXPECT_FALSE(over->MayTakeAll({{"ns/b", Cpu(1)}})) << "nor 3 + 2 > 5 - 1";
}

TEST(QueueVictimRuleTest, FairnessWeighsQueuesWhereTheirPathsPartAndKeepsGuarantees) {
  FairShare fs = Cluster({Spec(R"({"metadata":{"name":"eng"},"spec":{}})"), Spec(R"({"metadata":{"name":"ops"},"spec":{}})"),
                          Spec(R"({"metadata":{"name":"team-a"},"spec":{"parent":"eng"}})"),
                          Spec(R"({"metadata":{"name":"team-b"},"spec":{"parent":"eng"}})"),
                          Spec(R"({"metadata":{"name":"heavy"},"spec":{"weight":3}})"),
                          Spec(R"({"metadata":{"name":"kept"},"spec":{"guaranteed":{"cpu":"4"}}})")},
                         40);
  for (int i = 0; i < 12; ++i) fs.Add("team-b", Req(1));  // eng 12
  for (int i = 0; i < 4; ++i) fs.Add("ops", Req(1));      // ops 4
  for (int i = 0; i < 15; ++i) fs.Add("heavy", Req(1));   // 15 / 3 = 5
  for (int i = 0; i < 4; ++i) fs.Add("kept", Req(1));     // at its guarantee
  auto rule = QueueVictimRule::Fairness(fs, "team-a", Cpu(1), {}, {});
  ASSERT_TRUE(rule.has_value());
  EXPECT_TRUE(rule->MayTake("team-b", Cpu(1))) << "within eng, team-a 0 is below team-b 12";
  EXPECT_FALSE(rule->MayTake("ops", Cpu(1))) << "eng 12 is above ops 4";
  EXPECT_FALSE(rule->MayTake("heavy", Cpu(1))) << "eng 12 is above heavy's weighted 5";
  EXPECT_FALSE(rule->MayTake("eng", Cpu(1))) << "an ancestor is not a rival";
  auto ops = QueueVictimRule::Fairness(fs, "ops", Cpu(1), {}, {});
  ASSERT_TRUE(ops.has_value());
  EXPECT_TRUE(ops->MayTake("team-b", Cpu(1))) << "ops 5 <= eng 11";
  EXPECT_FALSE(ops->MayTake("heavy", Cpu(1))) << "ops 4 is below heavy's 5, but 5 > 14 / 3";
  auto newcomer = QueueVictimRule::Fairness(fs, "ns/new", Cpu(1), {}, {});
  ASSERT_TRUE(newcomer.has_value());
  EXPECT_FALSE(newcomer->MayTake("kept", Cpu(1))) << "never below a guarantee";
  EXPECT_TRUE(newcomer->MayTake("heavy", Cpu(1)));
}

}  // namespace
}  // namespace berth::controllers::builtin
