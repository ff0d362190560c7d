#include "core/json/utf8.h"

#include "core/json/codec.h"
#include "core/yaml/yaml_codec.h"
#include "gtest/gtest.h"

namespace berth::json {
namespace {

TEST(Utf8Test, ValidAndInvalidSequences) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("caf\xE9"));          // Latin-1 é
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));         // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));     // UTF-16 surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80")); // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));         // truncated
  EXPECT_EQ(FirstInvalidUtf8Offset("abc\xFFx"), 3u);
  EXPECT_EQ(ReplaceInvalidUtf8("caf\xE9!"), "caf\xEF\xBF\xBD!");
}

TEST(Utf8Test, FindsTheFieldWithTheBadString) {
  Value v = *Parse(R"({"data":{"k":"ok"},"spec":{"args":["a","b"]}})");
  EXPECT_FALSE(FindInvalidUtf8(v).has_value());
  v["spec"]["args"].as_array()[1] = Value(std::string("caf\xE9"));
  EXPECT_EQ(FindInvalidUtf8(v).value_or("none"), "spec.args[1]");
}

TEST(Utf8Test, YamlRefusesInvalidUtf8) {
  auto v = yaml::ParseSingle("metadata:\n  name: caf\xE9\n");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("not valid UTF-8"), std::string::npos) << v.status();
  EXPECT_TRUE(yaml::ParseSingle("metadata:\n  name: caf\xC3\xA9\n").ok());
}

TEST(Utf8Test, StoredBytesWithInvalidUtf8StillRead) {
  std::string stored = "{\"name\":\"caf\xE9\"}";
  EXPECT_FALSE(Parse(stored).ok());
  auto v = ParseStored(stored);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->GetString({"name"}), "caf\xEF\xBF\xBD");
}

// 270k keys used to take 95 s (each member searched the ones before it); duplicates keep
// Go's rule.
TEST(JsonObjectsTest, ManyKeysDecodeInLinearTime) {
  std::string body = "{";
  for (int i = 0; i < 270000; ++i) body += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  body += ",\"k7\":2}";
  auto v = Parse(body);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 270000u);
  EXPECT_EQ(v->Find("k7")->as_int(), 2);                  // the last duplicate wins
  EXPECT_EQ(v->as_object()[7].first, "k7");               // at the first one's place
  std::string yaml;
  for (int i = 0; i < 100000; ++i) yaml += "k" + std::to_string(i) + ": 1\n";
  auto y = yaml::ParseSingle(yaml);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->size(), 100000u);
}

}  // namespace
}  // namespace berth::json
