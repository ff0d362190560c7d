// The Node authorizer's graph and decisions: a node reads what its bound pods use, by name,
// and nothing else of those kinds; its lease only; NodeRules for the rest.

#include "apiserver/auth/node/node_authorizer.h"

#include <gtest/gtest.h>

#include "apiserver/auth/rbac/bootstrap_policy.h"
#include "unit/apiserver/auth/request_attributes.h"
#include "core/json/codec.h"

namespace berth::apiserver::auth::node {
namespace {

using test::Res;

json::Value J(const std::string& text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return *v;
}

UserInfo Node(const std::string& name) {
  UserInfo u;
  u.name = "system:node:" + name;
  u.groups = {"system:nodes", kAuthenticatedGroup};
  return u;
}

json::Value Pod(const std::string& name, const std::string& node, const std::string& secret) {
  return J(R"({"metadata":{"name":")" + name + R"(","namespace":"default"},"spec":{"nodeName":")" + node +
           R"(","serviceAccountName":"default","imagePullSecrets":[{"name":"pull"}],
             "containers":[{"name":"c","envFrom":[{"configMapRef":{"name":"settings"}}],
                            "env":[{"name":"K","valueFrom":{"secretKeyRef":{"name":"env-secret","key":"k"}}}]}],
             "volumes":[{"name":"s","secret":{"secretName":")" + secret + R"("}},
                        {"name":"d","persistentVolumeClaim":{"claimName":"data"}},
                        {"name":"scratch","ephemeral":{"volumeClaimTemplate":{}}},
                        {"name":"p","projected":{"sources":[{"configMap":{"name":"projected-cm"}}]}}]}})");
}

class NodeAuthorizerTest : public ::testing::Test {
 protected:
  NodeAuthorizerTest() : graph_(std::make_shared<NodeGraph>()), authorizer_(graph_, Rules()) {}
  static std::vector<rbac::PolicyRule> Rules() {
    std::vector<rbac::PolicyRule> rules;
    for (const json::Value& r : rbac::NodeRules()) rules.push_back(rbac::ParsePolicyRule(r));
    return rules;
  }
  Decision::Kind Decide(const Attributes& a) { return authorizer_.Authorize(a).kind; }

  std::shared_ptr<NodeGraph> graph_;
  NodeAuthorizer authorizer_;
};

TEST_F(NodeAuthorizerTest, NodeNameOnlyForNodeIdentities) {
  EXPECT_EQ(NodeNameOf(Node("n1")), "n1");
  UserInfo no_group;
  no_group.name = "system:node:n1";
  EXPECT_EQ(NodeNameOf(no_group), "");
  UserInfo other = Node("n1");
  other.name = "alice";
  EXPECT_EQ(NodeNameOf(other), "");
  EXPECT_EQ(Decide(Res(other, "get", "default", "", "secrets", "s1")), Decision::kNoOpinion);
}

TEST_F(NodeAuthorizerTest, ReadsEverythingItsPodsUseAndNothingElse) {
  graph_->Observe("Pod", Pod("p1", "n1", "s1"), false);
  graph_->Observe("Pod", Pod("p2", "n2", "s2"), false);
  graph_->Observe("PersistentVolumeClaim", J(R"({"metadata":{"name":"data","namespace":"default"},"spec":{"volumeName":"pv-1"}})"), false);
  for (const auto& [resource, name] : std::vector<std::pair<std::string, std::string>>{
           {"secrets", "s1"}, {"secrets", "pull"}, {"secrets", "env-secret"}, {"configmaps", "settings"},
           {"configmaps", "projected-cm"}, {"persistentvolumeclaims", "data"}, {"persistentvolumeclaims", "p1-scratch"}}) {
    EXPECT_EQ(Decide(Res(Node("n1"), "get", "default", "", resource, name)), Decision::kAllow) << resource << "/" << name;
  }
  EXPECT_EQ(Decide(Res(Node("n1"), "get", "", "", "persistentvolumes", "pv-1")), Decision::kAllow);
  EXPECT_EQ(Decide(Res(Node("n3"), "get", "", "", "persistentvolumes", "pv-1")), Decision::kNoOpinion);
  Decision d = authorizer_.Authorize(Res(Node("n1"), "get", "default", "", "secrets", "s2"));
  EXPECT_EQ(d.kind, Decision::kNoOpinion);
  EXPECT_EQ(d.reason, "no relationship found between node 'n1' and this object");
  EXPECT_EQ(Decide(Res(Node("n1"), "get", "other", "", "secrets", "s1")), Decision::kNoOpinion);
  EXPECT_EQ(authorizer_.Authorize(Res(Node("n1"), "list", "default", "", "secrets", "")).reason, "No Object name found");
  EXPECT_EQ(Decide(Res(Node("n1"), "watch", "default", "", "secrets", "s1")), Decision::kAllow);  // watch by name
  EXPECT_EQ(authorizer_.Authorize(Res(Node("n1"), "update", "default", "", "secrets", "s1")).reason,
            "can only read resources of this type");
  EXPECT_EQ(authorizer_.Authorize(Res(Node("n1"), "list", "default", "", "persistentvolumeclaims", "data")).reason,
            "can only get individual resources of this type");
}

TEST_F(NodeAuthorizerTest, SharedObjectsStayReachableUntilTheLastPodGoes) {
  graph_->Observe("Pod", Pod("a", "n1", "shared"), false);
  graph_->Observe("Pod", Pod("b", "n1", "shared"), false);
  graph_->Observe("Pod", Pod("a", "n1", "shared"), true);
  EXPECT_EQ(Decide(Res(Node("n1"), "get", "default", "", "secrets", "shared")), Decision::kAllow);
  // b moves to another node (rebound after a delete and recreate): n1 loses it, n2 gains it.
  graph_->Observe("Pod", Pod("b", "n2", "shared"), false);
  EXPECT_EQ(Decide(Res(Node("n1"), "get", "default", "", "secrets", "shared")), Decision::kNoOpinion);
  EXPECT_EQ(Decide(Res(Node("n2"), "get", "default", "", "secrets", "shared")), Decision::kAllow);
  EXPECT_EQ(graph_->PodNode("default", "b"), "n2");
  graph_->Observe("Pod", J(R"({"metadata":{"name":"pending","namespace":"default"},"spec":{}})"), false);
  EXPECT_EQ(graph_->PodNode("default", "pending"), "");
  EXPECT_EQ(graph_->PodNode("default", "unknown"), std::nullopt);
}

TEST_F(NodeAuthorizerTest, OnlyItsOwnLeaseAndNodeRulesForTheRest) {
  const std::string coord = "coordination.k8s.io";
  EXPECT_EQ(Decide(Res(Node("n1"), "update", "kube-node-lease", coord, "leases", "n1")), Decision::kAllow);
  EXPECT_EQ(Decide(Res(Node("n1"), "create", "kube-node-lease", coord, "leases", "")), Decision::kAllow);
  EXPECT_EQ(authorizer_.Authorize(Res(Node("n1"), "update", "kube-node-lease", coord, "leases", "n2")).reason,
            "can only access node lease with the same name as the requesting node");
  EXPECT_EQ(Decide(Res(Node("n1"), "get", "default", coord, "leases", "n1")), Decision::kNoOpinion);
  EXPECT_EQ(Decide(Res(Node("n1"), "list", "", "", "pods", "")), Decision::kAllow);
  EXPECT_EQ(Decide(Res(Node("n1"), "list", "", "discovery.k8s.io", "endpointslices", "")), Decision::kAllow);
  EXPECT_EQ(Decide(Res(Node("n1"), "create", "default", "apps", "deployments", "")), Decision::kNoOpinion);
}

}  // namespace
}  // namespace berth::apiserver::auth::node
