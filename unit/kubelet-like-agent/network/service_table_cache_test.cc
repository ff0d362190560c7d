// The per-Service table cache: the whole table first, then only what changed, by
// resourceVersion; its desired table always equals the one built from everything.

#include "kubelet-like-agent/network/service_table_cache.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::agent::network {
namespace {

json::Value Service(const std::string& name, const std::string& ip, const std::string& rv) {
  return *json::Parse(R"({"metadata":{"name":")" + name + R"(","namespace":"default","resourceVersion":")" + rv +
                      R"("},"spec":{"clusterIP":")" + ip + R"(","ports":[{"name":"http","port":80,"protocol":"TCP"}]}})");
}

json::Value Slice(const std::string& service, const std::string& rv, const std::vector<std::string>& ips) {
  std::string endpoints;
  for (const std::string& ip : ips) {
    endpoints += (endpoints.empty() ? "" : ",") + std::string(R"({"addresses":[")") + ip + R"("],"conditions":{"ready":true}})";
  }
  return *json::Parse(R"({"metadata":{"name":")" + service + R"(-abc","namespace":"default","resourceVersion":")" + rv +
                      R"(","labels":{"kubernetes.io/service-name":")" + service +
                      R"("}},"addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[)" +
                      endpoints + "]}");
}

ServiceTable Whole(const std::vector<const json::Value*>& services, const std::vector<const json::Value*>& slices) {
  return BuildServiceTable(ServicePortRules(services, slices), {});
}

TEST(ServiceTableCache, TheWholeTableFirstThenOnlyTheServicesThatChanged) {
  json::Value a = Service("a", "10.96.0.10", "1"), b = Service("b", "10.96.0.11", "2"), c = Service("c", "10.96.0.12", "3");
  json::Value sa = Slice("a", "4", {"10.244.0.2"}), sb = Slice("b", "5", {"10.244.0.3", "10.244.0.4"});
  ServiceTableCache cache({});
  cache.Refresh({&a, &b, &c}, {&sa, &sb});
  EXPECT_EQ(cache.Desired(), Whole({&a, &b, &c}, {&sa, &sb}));
  EXPECT_EQ(cache.Script(), FullTableScript(Whole({&a, &b, &c}, {&sa, &sb})));
  cache.MarkProgrammed();

  // Nothing changed: nothing to do.
  cache.Refresh({&a, &b, &c}, {&sa, &sb});
  EXPECT_EQ(cache.Script(), "");

  // One endpoint of b goes: only b's chains and elements move.
  json::Value sb2 = Slice("b", "6", {"10.244.0.3"});
  cache.Refresh({&a, &b, &c}, {&sa, &sb2});
  EXPECT_EQ(cache.Desired(), Whole({&a, &b, &c}, {&sa, &sb2}));
  std::string delta = cache.Script();
  EXPECT_EQ(delta, IncrementalTableScript(Whole({&b}, {&sb}), Whole({&b}, {&sb2})));  // b's diff, nothing of a or c
  EXPECT_NE(delta.find("delete chain ip berth endpoint-"), std::string::npos) << delta;  // the gone endpoint's chain
  cache.MarkProgrammed();

  // A new slice version with the same endpoints changes nothing in the table.
  json::Value sb3 = Slice("b", "7", {"10.244.0.3"});
  cache.Refresh({&a, &b, &c}, {&sa, &sb3});
  EXPECT_EQ(cache.Script(), "");
  cache.MarkProgrammed();

  // a goes with its slice: its part is removed, c (no endpoints: rejected) stays.
  cache.Refresh({&b, &c}, {&sb3});
  EXPECT_EQ(cache.Desired(), Whole({&b, &c}, {&sb3}));
  EXPECT_EQ(cache.Script(), IncrementalTableScript(Whole({&a}, {&sa}), ServiceTable{}));
  cache.MarkProgrammed();

  // After a failed sync the whole table goes in again.
  cache.ForgetProgrammed();
  EXPECT_EQ(cache.Script(), FullTableScript(Whole({&b, &c}, {&sb3})));
}

}  // namespace
}  // namespace berth::agent::network
