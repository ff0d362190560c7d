#include "core/yaml/yaml_codec.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::yaml {
namespace {

TEST(YamlTest, ResolvesScalarsLikeGoYamlV2) {
  auto v = ParseSingle(R"(
a: 3
b: "3"
c: yes
d: y
e: ~
f: 1.5
g: hello
h: 'true'
i: 0x10
)");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(json::Serialize(*v),
            R"({"a":3,"b":"3","c":true,"d":true,"e":null,"f":1.5,"g":"hello","h":"true","i":16})");
}

TEST(YamlTest, MultiDocumentSkipsEmptyOnes) {
  auto docs = ParseDocuments("a: 1\n---\n---\nb: [1, 2]\n");
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ(json::Serialize((*docs)[1]), R"({"b":[1,2]})");
  EXPECT_FALSE(ParseSingle("a: 1\n---\nb: 2\n").ok());
}

TEST(YamlTest, MalformedIsAnError) {
  EXPECT_FALSE(ParseDocuments("a: [1, 2\n").ok());
  EXPECT_FALSE(ParseDocuments("a: b: c").ok());
}

TEST(YamlTest, DepthLimit) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  EXPECT_FALSE(ParseDocuments(deep).ok());
}

}  // namespace
}  // namespace berth::yaml

namespace berth::yaml {
namespace {
TEST(YamlTest, JsonIsYaml) {
  auto v = ParseSingle(R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}})");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(json::Serialize(*v), R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa"},"data":{"a":"1"}})");
}
}  // namespace
}  // namespace berth::yaml

namespace berth::yaml {
namespace {
// Inputs on which yaml-cpp 0.7's LoadAll loops forever, allocating (found by fuzz_smoke).
TEST(YamlTest, MalformedInputsThatHangYamlCppFailFast) {
  for (const char* bad : {",", ",a\n", ",a: b\nc: d\n", "[:", "{:", "- !+(.,.)"}) {
    auto r = ParseDocuments(bad);
    (void)r;  // an error or a value, but it returns
  }
  EXPECT_FALSE(ParseDocuments(",a\n").ok());
}

TEST(YamlTest, AliasBombIsBounded) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (int i = 0; i < 9; ++i) {
    std::string name(1, static_cast<char>('b' + i));
    bomb += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
    prev = name;
  }
  auto r = ParseDocuments(bomb);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("expands"), std::string::npos);
}

TEST(YamlTest, AnchorsAndAliasesResolve) {
  auto r = ParseSingle("base: &b {x: 1}\nother: *b\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(json::Serialize(*r), R"({"base":{"x":1},"other":{"x":1}})");
}
}  // namespace
}  // namespace berth::yaml
