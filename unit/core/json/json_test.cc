#include "core/json/codec.h"

#include <string>

#include "gtest/gtest.h"

namespace berth::json {
namespace {

TEST(JsonTest, RoundTripKeepsMemberOrder) {
  auto v = Parse(R"({"b":1,"a":[true,null,"x",1.5],"c":{"d":-3}})");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Serialize(*v), R"({"b":1,"a":[true,null,"x",1.5],"c":{"d":-3}})");
}

TEST(JsonTest, RejectsMalformedAndTrailingGarbage) {
  EXPECT_FALSE(Parse("{").ok());
  EXPECT_FALSE(Parse("{} x").ok());
  EXPECT_FALSE(Parse("").ok());
  EXPECT_FALSE(Parse("\"\xff\"").ok());  // invalid UTF-8
}

TEST(JsonTest, RejectsDeepNesting) {
  std::string deep(1000, '[');
  deep += std::string(1000, ']');
  auto v = Parse(deep);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("nesting"), std::string::npos);
  EXPECT_TRUE(Parse(std::string(10, '[') + std::string(10, ']')).ok());
}

TEST(JsonTest, DuplicateKeysLastWins) {
  auto v = Parse(R"({"a":1,"a":2})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(Serialize(*v), R"({"a":2})");
}

TEST(JsonTest, AccessorsAndEquality) {
  Value v = Value::MakeObject();
  v.Ensure({"metadata", "name"}) = "x";
  EXPECT_EQ(v.GetString({"metadata", "name"}), "x");
  EXPECT_EQ(v.GetString({"metadata", "missing"}, "d"), "d");
  EXPECT_EQ(v.Get({"nope", "x"}), nullptr);
  auto a = Parse(R"({"x":1,"y":2})");
  auto b = Parse(R"({"y":2,"x":1.0})");
  EXPECT_TRUE(*a == *b);
  EXPECT_TRUE(v.Erase("metadata"));
  EXPECT_EQ(v.size(), 0u);
}

TEST(JsonTest, LongNumbersRoundTripExactly) {
  // Found by libFuzzer: without full-precision parsing this value changed on a round trip.
  auto v = Parse("[9888000000000000000000000000000000000000584467151640971036]");
  ASSERT_TRUE(v.ok());
  auto again = Parse(Serialize(*v));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again == *v) << Serialize(*v);
}

TEST(JsonTest, QuoteEscapes) { EXPECT_EQ(Quote("a\"b\n"), R"("a\"b\n")"); }

}  // namespace
}  // namespace berth::json

namespace berth::json {
namespace {

// ASCII text skips rapidjson's per-character encoding check; what it checked must still hold.
TEST(JsonParseEncodingTest, RawBytesAreCheckedAndEscapesDecodedWithOrWithoutTheAsciiShortcut) {
  auto multibyte = Parse("{\"a\":\"caf\xC3\xA9\"}");
  ASSERT_TRUE(multibyte.ok()) << multibyte.status();
  EXPECT_EQ(multibyte->GetString({"a"}), "caf\xC3\xA9");
  EXPECT_FALSE(Parse("{\"a\":\"caf\xE9\"}").ok()) << "a Latin-1 byte is not UTF-8";
  EXPECT_FALSE(Parse("{\"a\":\"x\xC3\"}").ok()) << "a truncated sequence";
  auto escaped = Parse(R"({"a":"caf\u00e9 \ud83d\ude00"})");
  ASSERT_TRUE(escaped.ok()) << escaped.status();
  EXPECT_EQ(escaped->GetString({"a"}), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_FALSE(Parse(R"({"a":"\ud800"})").ok()) << "a lone surrogate, in ASCII text";
  EXPECT_FALSE(Parse(R"({"a":"\ud800x"})").ok());
  // Long ASCII text (the word-at-a-time check) with one high byte at the end.
  std::string long_text = "{\"a\":\"" + std::string(100, 'x') + "\xFF\"}";
  EXPECT_FALSE(Parse(long_text).ok());
  long_text = "{\"a\":\"" + std::string(100, 'x') + "\"}";
  EXPECT_TRUE(Parse(long_text).ok());
}

}  // namespace
}  // namespace berth::json
