// The scheduler's index of placed pods: selectors read the pods they may match, relabelling
// moves a pod between lists, identical terms are parsed once.
#include "controllers/builtin/scheduler/placed_pod_index.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"

namespace berth::controllers::builtin {
namespace {

ObjectPtr Pod(const std::string& ns, const std::string& labels, const std::string& spec = "{}") {
  auto v = json::Parse(R"({"metadata":{"namespace":")" + ns + R"(","labels":)" + labels + R"(},"spec":)" + spec + "}");
  EXPECT_TRUE(v.ok());
  return std::make_shared<const json::Value>(*v);
}

selector::LabelSelector Selector(const std::string& text) {
  auto s = selector::LabelSelector::Parse(text);
  EXPECT_TRUE(s.ok()) << text;
  return *s;
}

std::multiset<std::string> Visited(const PlacedPodIndex& index, const std::string* ns, const std::string& selector) {
  std::multiset<std::string> out;
  index.ForEachMaybeMatching(ns, Selector(selector), [&](const PlacedPodIndex::Entry& e) {
    out.insert(e.object->GetString({"metadata", "labels", "name"}));
  });
  return out;
}

TEST(PlacedPodIndexTest, SelectorsReadOnlyTheirLabelsPods) {
  PlacedPodIndex index;
  EXPECT_TRUE(index.Put("a/1", "n1", Pod("a", R"({"name":"1","app":"web","tier":"fe"})")));
  EXPECT_TRUE(index.Put("a/2", "n1", Pod("a", R"({"name":"2","app":"web"})")));
  EXPECT_TRUE(index.Put("a/3", "n2", Pod("a", R"({"name":"3","app":"db","tier":"fe"})")));
  EXPECT_TRUE(index.Put("b/4", "n2", Pod("b", R"({"name":"4","app":"web"})")));
  std::string a = "a";
  EXPECT_EQ(Visited(index, &a, "app=web"), (std::multiset<std::string>{"1", "2"}));
  EXPECT_EQ(Visited(index, nullptr, "app=web"), (std::multiset<std::string>{"1", "2", "4"}));
  EXPECT_EQ(Visited(index, &a, "app in (web,db)"), (std::multiset<std::string>{"1", "2", "3"}));
  // The most selective requirement is walked; the caller checks the rest.
  EXPECT_EQ(Visited(index, &a, "tier=fe,app=db"), (std::multiset<std::string>{"3"}));
  // Nothing to narrow by: the whole namespace.
  EXPECT_EQ(Visited(index, &a, "tier!=fe"), (std::multiset<std::string>{"1", "2", "3"}));
  EXPECT_EQ(Visited(index, &a, "app=cache"), std::multiset<std::string>{});
}

TEST(PlacedPodIndexTest, RelabelMovesAPodAndReportsTheChange) {
  PlacedPodIndex index;
  index.Put("a/1", "n1", Pod("a", R"({"name":"1","app":"web"})"));
  EXPECT_FALSE(index.Put("a/1", "n1", Pod("a", R"({"name":"1","app":"web"})"))) << "same labels, same node";
  EXPECT_TRUE(index.Put("a/1", "n1", Pod("a", R"({"name":"1","app":"db"})")));
  std::string a = "a";
  EXPECT_TRUE(Visited(index, &a, "app=web").empty());
  EXPECT_EQ(Visited(index, &a, "app=db").size(), 1u);
  index.Remove("a/1");
  EXPECT_TRUE(Visited(index, &a, "app=db").empty());
  EXPECT_EQ(index.size(), 0u);
}

TEST(PlacedPodIndexTest, IdenticalTermsAreParsedOnceAndGroupedByNode) {
  PlacedPodIndex index;
  std::string anti = R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
      {"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"kubernetes.io/hostname"}]}}})";
  index.Put("a/1", "n1", Pod("a", R"({"name":"1","app":"web"})", anti));
  index.Put("a/2", "n2", Pod("a", R"({"name":"2","app":"web"})", anti));
  index.Put("a/3", "n2", Pod("a", R"({"name":"3","app":"db"})"));
  EXPECT_TRUE(index.any_affinity());
  std::vector<std::pair<std::string, const PodAffinityTerms*>> seen;
  index.ForEachWithAffinity([&](const std::string& node, const PlacedPodIndex::Entry& e) { seen.emplace_back(node, e.terms.get()); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, "n1");
  EXPECT_EQ(seen[1].first, "n2");
  EXPECT_EQ(seen[0].second, seen[1].second) << "one parsed list shared";
  ASSERT_NE(seen[0].second, nullptr);
  EXPECT_EQ(seen[0].second->required_anti_affinity.size(), 1u);
  index.Put("a/5", "n2", Pod("a", R"({"name":"5","app":"web"})", anti));
  std::map<std::string, int64_t> per_node;
  int lists = 0;
  index.ForEachTermGroup([&](const PodAffinityTerms&) { return ++lists > 0; },
                         [&](const std::string& node, int64_t pods) { per_node[node] += pods; });
  EXPECT_EQ(lists, 1);
  EXPECT_EQ(per_node, (std::map<std::string, int64_t>{{"n1", 1}, {"n2", 2}}));
  index.RemoveAllBut({"a/3"});
  EXPECT_FALSE(index.any_affinity());
  EXPECT_EQ(index.size(), 1u);
}

}  // namespace
}  // namespace berth::controllers::builtin
