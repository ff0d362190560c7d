// File: unit/apiserver/registry/admission/service_allocation_test.cc
#include "apiserver/registry/admission/service_allocation.h"

#include <gtest/gtest.h>

#include "apiserver/registry/registry.h"
#include "apiserver/storage/memory/memory_store.h"
#include "core/json/codec.h"
#include "testing/fake_clock.h"

namespace berth {
std::map<std::string, std::string> EmbeddedSchemas();
}  // namespace berth

namespace berth::apiserver::registry {
namespace {

class ServiceAllocationTest : public ::testing::Test {
 protected:
  ServiceAllocationTest()
      : type_(ServicesType()), allocation_(*ParseServiceRanges("10.96.0.0/24", "30000-30009"), clock_) {}

  static ResourceType ServicesType() {
    ResourceType t;
    t.version = "v1";
    t.kind = "Service";
    t.plural = "services";
    return t;
  }
  absl::StatusOr<json::Value> Create(const std::string& json_text, bool commit = true) {
    json::Value svc = *json::Parse(json_text);
    AdmissionAttributes attrs{AdmissionOperation::kCreate, type_, nullptr, registry_, false};
    absl::Status s = allocation_.Mutate(attrs, svc);
    if (!s.ok()) return s;
    if (commit) allocation_.Observe(svc, false);
    return svc;
  }

  berth::testing::FakeClock clock_;
  storage::MemoryStore store_{clock_};
  std::unique_ptr<Catalog> catalog_ = Catalog::Builtin();
  Registry registry_{store_, *catalog_, *schema::SchemaSet::Load(EmbeddedSchemas()), clock_};
  ResourceType type_;
  ServiceAllocation allocation_;
};

TEST_F(ServiceAllocationTest, AllocatesFromTheUpperBandAndKeepsRequestedAddresses) {
  auto a = Create(R"({"metadata":{"name":"a","namespace":"default"},"spec":{"ports":[{"port":80}]}})");
  ASSERT_TRUE(a.ok()) << a.status();
  // /24: .1-.16 are kept for addresses users ask for.
  EXPECT_EQ(a->GetString({"spec", "clusterIP"}), "10.96.0.17");
  EXPECT_EQ(json::Serialize(*a->Get({"spec", "clusterIPs"})), R"(["10.96.0.17"])");
  EXPECT_EQ(json::Serialize(*a->Get({"spec", "ipFamilies"})), R"(["IPv4"])");
  auto dns = Create(R"({"metadata":{"name":"dns","namespace":"kube-system"},"spec":{"clusterIP":"10.96.0.10","ports":[{"port":53}]}})");
  ASSERT_TRUE(dns.ok());
  auto taken = Create(R"({"metadata":{"name":"x","namespace":"default"},"spec":{"clusterIP":"10.96.0.10","ports":[{"port":53}]}})");
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(std::string(taken.status().message()).find("provided IP is already allocated"), std::string::npos);
  auto outside = Create(R"({"metadata":{"name":"y","namespace":"default"},"spec":{"clusterIP":"10.97.0.1","ports":[{"port":53}]}})");
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(std::string(outside.status().message()).find("not in the valid range"), std::string::npos);
  auto headless = Create(R"({"metadata":{"name":"h","namespace":"default"},"spec":{"clusterIP":"None","ports":[{"port":53}]}})");
  EXPECT_EQ(headless->GetString({"spec", "clusterIP"}), "None");
  // A delete frees the address for whoever asks for it.
  allocation_.Observe(*dns, true);
  EXPECT_TRUE(Create(R"({"metadata":{"name":"x","namespace":"default"},"spec":{"clusterIP":"10.96.0.10","ports":[{"port":53}]}})").ok());
}

TEST_F(ServiceAllocationTest, ReservationsHoldUntilCommittedOrLapsed) {
  auto a = Create(R"({"metadata":{"name":"a","namespace":"default"},"spec":{"clusterIP":"10.96.0.5","ports":[{"port":80}]}})", false);
  ASSERT_TRUE(a.ok());
  // Not committed yet: a concurrent create of the same address is refused.
  EXPECT_FALSE(Create(R"({"metadata":{"name":"b","namespace":"default"},"spec":{"clusterIP":"10.96.0.5","ports":[{"port":80}]}})").ok());
  clock_.Advance(absl::Minutes(2));  // a's write failed: the reservation lapses
  EXPECT_TRUE(Create(R"({"metadata":{"name":"b","namespace":"default"},"spec":{"clusterIP":"10.96.0.5","ports":[{"port":80}]}})").ok());
}

TEST_F(ServiceAllocationTest, NodePortsAreAllocatedCheckedAndForbiddenOnClusterIp) {
  auto a = Create(R"({"metadata":{"name":"a","namespace":"default"},"spec":{"type":"NodePort","ports":[{"port":80},{"port":81,"nodePort":30001}]}})");
  ASSERT_TRUE(a.ok()) << a.status();
  int64_t first = a->Get({"spec", "ports"})->as_array()[0].Find("nodePort")->as_int();
  EXPECT_GE(first, 30000);
  EXPECT_LE(first, 30009);
  EXPECT_NE(first, 30001);
  auto dup = Create(R"({"metadata":{"name":"b","namespace":"default"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30001}]}})");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(std::string(dup.status().message()).find("spec.ports[0].nodePort"), std::string::npos);
  EXPECT_NE(std::string(dup.status().message()).find("provided port is already allocated"), std::string::npos);
  auto out = Create(R"({"metadata":{"name":"c","namespace":"default"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":31000}]}})");
  EXPECT_NE(std::string(out.status().message()).find("The range of valid ports is 30000-30009"), std::string::npos);
  auto forbidden = Create(R"({"metadata":{"name":"d","namespace":"default"},"spec":{"ports":[{"port":80,"nodePort":30005}]}})");
  EXPECT_NE(std::string(forbidden.status().message()).find("may not be used when `type` is 'ClusterIP'"), std::string::npos);
}

TEST(ServiceRanges, RefuseBadFlags) {
  EXPECT_FALSE(ParseServiceRanges("10.96.0.1/12", "30000-32767").ok());
  EXPECT_FALSE(ParseServiceRanges("10.96.0.0/12", "32767-30000").ok());
  EXPECT_FALSE(ParseServiceRanges("10.96.0.0/12", "30000").ok());
  EXPECT_TRUE(ParseServiceRanges("10.96.0.0/12", "30000-32767").ok());
}

}  // namespace
}  // namespace berth::apiserver::registry
