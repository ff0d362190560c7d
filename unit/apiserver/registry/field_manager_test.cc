#include "apiserver/registry/field_manager.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"

namespace berth::apiserver::registry {
namespace {

json::Value J(const std::string& s) { return *json::Parse(s); }

ApplyRequest As(const std::string& manager, bool force = false) {
  return {manager, force, "v1", absl::FromUnixSeconds(1767225600)};
}

TEST(FieldManagerTest, OwnershipConflictsForceAndRemoval) {
  auto first = ApplyConfiguration(nullptr, J(R"({"metadata":{"name":"c"},"data":{"a":"1","b":"x"}})"), As("alice"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(json::Serialize(*first->Get({"metadata", "managedFields"})),
            R"([{"manager":"alice","operation":"Apply","apiVersion":"v1","time":"2026-01-01T00:00:00Z",)"
            R"("fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:a":{},"f:b":{}}}}])");
  // Bob sets a field Alice owns to another value: a conflict naming both.
  auto clash = ApplyConfiguration(&*first, J(R"({"data":{"a":"2"}})"), As("bob"));
  ASSERT_EQ(clash.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(clash.status().message(), "Apply failed with 1 conflict: conflict with \"alice\": .data.a");
  // Agreeing on the value is shared ownership, not a conflict.
  auto shared = ApplyConfiguration(&*first, J(R"({"data":{"a":"1"}})"), As("bob"));
  ASSERT_TRUE(shared.ok()) << shared.status();
  // Forced: Bob takes the field over.
  auto forced = ApplyConfiguration(&*first, J(R"({"data":{"a":"2"}})"), As("bob", true));
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->GetString({"data", "a"}), "2");
  // Alice stops applying b (hers alone: removed) and a (now Bob's: kept).
  auto dropped = ApplyConfiguration(&*forced, J(R"({"data":{"c":"3"}})"), As("alice"));
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(json::Serialize(*dropped->Find("data")), R"({"a":"2","c":"3"})");
  // Entries of other operations are kept untouched.
  json::Value with_update = *dropped;
  with_update["metadata"]["managedFields"].as_array().push_back(J(R"({"manager":"kubectl-edit","operation":"Update"})"));
  auto again = ApplyConfiguration(&with_update, J(R"({"data":{"c":"4"}})"), As("alice"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Get({"metadata", "managedFields"})->size(), 3u);
}

}  // namespace
}  // namespace berth::apiserver::registry
