// Registration against a real in-process apiserver: a restarted agent finds its Node and, as
// the kubelet, leaves labels and taints to whoever changed them since (NodeRestriction refuses
// a node changing its taints), keeping only the machine's own labels true.

#include "kubelet-like-agent/node/heartbeat.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"
#include "testing/test_apiserver.h"

namespace berth::agent {
namespace {

TEST(NodeHeartbeatTest, ReRegistrationKeepsLabelsAndTaintsSetSince) {
  auto t = testing::StartTestApiServer();
  ASSERT_TRUE(t.ok()) << t.status();
  client::ApiClient& api = *t->api;
  auto machine = [] { return MachineInfo{.cpu_millis = 2000, .memory_bytes = 1 << 30}; };
  NodeConfig config;
  config.name = "n1";
  config.labels = {{"pool", "blue"}};
  config.taints = *json::Parse(R"([{"key":"dedicated","value":"gpu","effect":"NoSchedule"}])");
  {
    NodeHeartbeat first(api, {config}, machine);
    ASSERT_TRUE(first.RegisterAll().ok());
  }
  // The administrator relabels and untaints the node, and someone removes the hostname label.
  auto node = api.Get(client::resources::kNodes, "", "n1");
  ASSERT_TRUE(node.ok()) << node.status();
  json::Value& labels = (*node)["metadata"]["labels"];
  labels.Set("pool", "green");
  labels.Set("team", "infra");
  labels.Erase("kubernetes.io/hostname");
  (*node)["spec"].Set("taints", json::Value::MakeArray());
  ASSERT_TRUE(api.Update(client::resources::kNodes, *node).ok());

  config.labels = {{"pool", "blue"}, {"extra", "x"}};
  NodeHeartbeat restarted(api, {config}, machine);
  ASSERT_TRUE(restarted.RegisterAll().ok());
  auto after = api.Get(client::resources::kNodes, "", "n1");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->GetString({"metadata", "labels", "pool"}), "green");
  EXPECT_EQ(after->GetString({"metadata", "labels", "team"}), "infra");
  EXPECT_EQ(after->Get({"metadata", "labels", "extra"}), nullptr);
  EXPECT_EQ(after->GetString({"metadata", "labels", "kubernetes.io/hostname"}), "n1");
  const json::Value* taints = after->Get({"spec", "taints"});
  EXPECT_TRUE(taints == nullptr || taints->size() == 0) << json::Serialize(*after);
}

}  // namespace
}  // namespace berth::agent
