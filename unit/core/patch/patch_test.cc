#include "core/patch/patch.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::patch {
namespace {

json::Value J(const char* s) { return *json::Parse(s); }

TEST(MergePatchTest, Rfc7386Examples) {
  EXPECT_EQ(json::Serialize(MergePatch(J(R"({"a":"b"})"), J(R"({"a":"c"})"))), R"({"a":"c"})");
  EXPECT_EQ(json::Serialize(MergePatch(J(R"({"a":"b"})"), J(R"({"b":"c"})"))), R"({"a":"b","b":"c"})");
  EXPECT_EQ(json::Serialize(MergePatch(J(R"({"a":"b"})"), J(R"({"a":null})"))), R"({})");
  EXPECT_EQ(json::Serialize(MergePatch(J(R"({"a":[{"b":"c"}]})"), J(R"({"a":[1]})"))), R"({"a":[1]})");
  EXPECT_EQ(json::Serialize(MergePatch(J(R"({"e":null})"), J(R"({"a":{"bb":{"ccc":null}}})"))),
            R"({"e":null,"a":{"bb":{}}})");
  EXPECT_EQ(json::Serialize(MergePatch(J(R"(["a"])"), J(R"({"a":"b"})"))), R"({"a":"b"})");
}

TEST(JsonPatchTest, AllOperations) {
  auto r = JsonPatch(J(R"({"a":{"b":[1,2]},"c":1})"), J(R"([
    {"op":"add","path":"/a/b/1","value":9},
    {"op":"add","path":"/a/b/-","value":3},
    {"op":"remove","path":"/c"},
    {"op":"replace","path":"/a/x","value":"y"},
    {"op":"copy","from":"/a/x","path":"/z"},
    {"op":"move","from":"/z","path":"/w"},
    {"op":"test","path":"/w","value":"y"}])"));
  // replace on a missing member fails: RFC 6902 requires the target to exist.
  EXPECT_FALSE(r.ok());
  r = JsonPatch(J(R"({"a":{"b":[1,2]},"c":1})"), J(R"([
    {"op":"add","path":"/a/b/1","value":9},
    {"op":"add","path":"/a/b/-","value":3},
    {"op":"remove","path":"/c"},
    {"op":"add","path":"/a/x","value":"y"},
    {"op":"copy","from":"/a/x","path":"/z"},
    {"op":"move","from":"/z","path":"/w"},
    {"op":"test","path":"/w","value":"y"},
    {"op":"replace","path":"/a/b/0","value":0}])"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(json::Serialize(*r), R"({"a":{"b":[0,9,2,3],"x":"y"},"w":"y"})");
}

TEST(JsonPatchTest, FailuresNameTheOperation) {
  auto r = JsonPatch(J(R"({"a":1})"), J(R"([{"op":"test","path":"/a","value":2}])"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("operation 0"), std::string::npos);
  EXPECT_FALSE(JsonPatch(J("{}"), J(R"({"op":"add"})")).ok());
  EXPECT_FALSE(JsonPatch(J("{}"), J(R"([{"op":"bogus","path":"/a"}])")).ok());
  EXPECT_FALSE(JsonPatch(J(R"({"a":[1]})"), J(R"([{"op":"remove","path":"/a/5"}])")).ok());
  EXPECT_FALSE(JsonPatch(J(R"({"a":{}})"), J(R"([{"op":"move","from":"/a","path":"/a/b"}])")).ok());
}

TEST(JsonPatchTest, PointerEscapes) {
  auto r = JsonPatch(J(R"({"a/b":1,"m~n":2})"),
                     J(R"([{"op":"remove","path":"/a~1b"},{"op":"remove","path":"/m~0n"}])"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::Serialize(*r), "{}");
}

TEST(CreateMergePatchTest, RoundTrips) {
  json::Value from = J(R"({"a":1,"b":{"c":2,"d":3},"e":4})");
  json::Value to = J(R"({"a":1,"b":{"c":5},"f":6})");
  json::Value p = CreateMergePatch(from, to);
  EXPECT_TRUE(MergePatch(from, p) == to);
}

// A 3 KB patch of 30 copies doubles the document 30 times; it must fail at the copy budget,
// long before memory runs out.
TEST(JsonPatchTest, CopyBombStopsAtTheAccumulatedCopyLimit) {
  std::string ops = "[";
  for (int i = 0; i < 30; ++i) ops += std::string(i ? "," : "") + R"({"op":"copy","from":"/a","path":"/a/x)" + std::to_string(i) + "\"}";
  ops += "]";
  auto r = JsonPatch(J(R"({"a":{"s":"0123456789012345678901234567890123456789"}})"), *json::Parse(ops));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("accumulated copy size limit"), std::string::npos) << r.status();
}

TEST(JsonPatchTest, AtMostTenThousandOperations) {
  std::string ops = "[";
  for (int i = 0; i <= 10000; ++i) ops += std::string(i ? "," : "") + R"({"op":"test","path":"/a","value":1})";
  ops += "]";
  auto r = JsonPatch(J(R"({"a":1})"), *json::Parse(ops));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("10000"), std::string::npos) << r.status();
  // Ordinary copies are fine.
  EXPECT_TRUE(JsonPatch(J(R"({"a":{"b":1}})"), J(R"([{"op":"copy","from":"/a","path":"/c"}])")).ok());
}

}  // namespace
}  // namespace berth::patch
