#include "controllers/builtin/scheduler/nominations.h"

#include "gtest/gtest.h"

namespace berth::controllers::builtin {
namespace {

RunningPod PodAt(int64_t priority) {
  RunningPod p;
  p.priority = priority;
  return p;
}

// Every view (by pod, by node, the lock-free rank's keys) moves together.
TEST(NominationsTest, AViewNeverOutlivesTheNomination) {
  Nominations n;
  n.Add("ns/a", "n1", PodAt(5));
  n.AddVictim("ns/a", "ns/v");
  n.Add("ns/b", "n1", PodAt(7));
  ASSERT_NE(n.OnNode("n1"), nullptr);
  EXPECT_EQ(*n.OnNode("n1"), (std::set<std::string>{"ns/a", "ns/b"}));
  EXPECT_TRUE(n.IsNominated("ns/a"));
  EXPECT_EQ(n.Find("ns/a")->victims, std::vector<std::string>{"ns/v"});

  // Nominated again elsewhere: gone from the first node, its old victims forgotten.
  n.Add("ns/a", "n2", PodAt(5));
  EXPECT_EQ(*n.OnNode("n1"), std::set<std::string>{"ns/b"});
  EXPECT_EQ(*n.OnNode("n2"), std::set<std::string>{"ns/a"});
  EXPECT_TRUE(n.Find("ns/a")->victims.empty());

  EXPECT_TRUE(n.Remove("ns/b"));
  EXPECT_FALSE(n.Remove("ns/b"));
  EXPECT_EQ(n.OnNode("n1"), nullptr);
  EXPECT_FALSE(n.IsNominated("ns/b"));
  EXPECT_FALSE(n.Contains("ns/b"));
  EXPECT_FALSE(n.Empty());
  EXPECT_TRUE(n.Remove("ns/a"));
  EXPECT_TRUE(n.Empty());
  EXPECT_FALSE(n.IsNominated("ns/a"));
  EXPECT_TRUE(n.All().empty());
}

}  // namespace
}  // namespace berth::controllers::builtin
