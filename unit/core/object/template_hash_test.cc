#include "core/object/template_hash.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::object {
namespace {

// Pinned values: a hash that changed between builds would roll every Deployment and DaemonSet.
TEST(TemplateHashTest, StableFnvWithTheConsonantAlphabet) {
  EXPECT_EQ(TemplateHash(json::Value::MakeObject()), "5859f96865");
  EXPECT_EQ(TemplateHash(*json::Parse(R"({"spec":{"containers":[]}})")), "699f6d64");
  EXPECT_EQ(TemplateHash(json::Value::MakeObject(), 1), "846dbd44b4");
  EXPECT_NE(TemplateHash(json::Value::MakeObject(), 1), TemplateHash(json::Value::MakeObject(), 2));
}

}  // namespace
}  // namespace berth::object
