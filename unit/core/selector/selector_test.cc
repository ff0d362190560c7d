#include "core/json/codec.h"
#include "core/selector/field_selector.h"
#include "core/selector/label_selector.h"
#include "gtest/gtest.h"

namespace berth::selector {
namespace {

json::Value Labels(const char* text) { return *json::Parse(text); }

TEST(LabelSelectorTest, AllOperators) {
  auto sel = LabelSelector::Parse("app=web,tier in (fe, be),env!=prod,!legacy,team,x==1");
  ASSERT_TRUE(sel.ok()) << sel.status();
  EXPECT_EQ(sel->requirements().size(), 6u);
  EXPECT_TRUE(sel->Matches(Labels(R"({"app":"web","tier":"fe","team":"a","x":"1"})")));
  EXPECT_FALSE(sel->Matches(Labels(R"({"app":"web","tier":"db","team":"a","x":"1"})")));
  EXPECT_FALSE(sel->Matches(Labels(R"({"app":"web","tier":"fe","team":"a","x":"1","legacy":"y"})")));
  EXPECT_FALSE(sel->Matches(Labels(R"({"app":"web","tier":"fe","x":"1"})")));
  EXPECT_FALSE(sel->Matches(Labels(R"({"app":"web","tier":"fe","team":"a","x":"1","env":"prod"})")));
}

TEST(LabelSelectorTest, NotInMatchesMissingKey) {
  auto sel = LabelSelector::Parse("tier notin (db)");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches(Labels("{}")));
  EXPECT_FALSE(sel->Matches(Labels(R"({"tier":"db"})")));
}

TEST(LabelSelectorTest, EmptyMatchesEverything) {
  auto sel = LabelSelector::Parse("");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches(json::Value()));
}

TEST(LabelSelectorTest, RejectsGarbage) {
  EXPECT_FALSE(LabelSelector::Parse("a in (b").ok());
  EXPECT_FALSE(LabelSelector::Parse("a=b=c d").ok());
  EXPECT_FALSE(LabelSelector::Parse("a foo (b)").ok());
  EXPECT_FALSE(LabelSelector::Parse(",").ok());
}

TEST(LabelSelectorTest, FromObject) {
  auto sel = LabelSelector::FromObject(*json::Parse(
      R"({"matchLabels":{"app":"x"},"matchExpressions":[{"key":"t","operator":"In","values":["a"]}]})"));
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches(Labels(R"({"app":"x","t":"a"})")));
  EXPECT_FALSE(sel->Matches(Labels(R"({"app":"x"})")));
  EXPECT_EQ(sel->ToString(), "app=x,t in (a)");
}

TEST(FieldSelectorTest, EqualsAndNotEquals) {
  auto sel = FieldSelector::Parse("spec.nodeName=n1,status.phase!=Failed");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches(*json::Parse(R"({"spec":{"nodeName":"n1"},"status":{"phase":"Running"}})")));
  EXPECT_FALSE(sel->Matches(*json::Parse(R"({"spec":{"nodeName":"n1"},"status":{"phase":"Failed"}})")));
  EXPECT_FALSE(sel->Matches(*json::Parse(R"({"spec":{}})")));
  auto empty_node = FieldSelector::Parse("spec.nodeName=");
  ASSERT_TRUE(empty_node.ok());
  EXPECT_TRUE(empty_node->Matches(*json::Parse(R"({"spec":{}})")));
  EXPECT_FALSE(FieldSelector::Parse("nonsense").ok());
}

}  // namespace
}  // namespace berth::selector
