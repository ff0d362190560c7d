// The RBAC evaluator against the examples of Kubernetes' RBAC documentation
// (kubernetes.io/docs/reference/access-authn-authz/rbac/) and upstream's matching rules.

#include "apiserver/auth/rbac/rbac_authorizer.h"

#include <gtest/gtest.h>

#include "apiserver/auth/rbac/bootstrap_policy.h"
#include "unit/apiserver/auth/request_attributes.h"
#include "core/json/codec.h"

namespace berth::apiserver::auth::rbac {
namespace {

json::Value J(const std::string& text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return *v;
}

UserInfo User(const std::string& name, std::vector<std::string> groups = {}) {
  UserInfo u;
  u.name = name;
  u.groups = std::move(groups);
  u.groups.push_back(kAuthenticatedGroup);
  return u;
}

using test::Res;

Attributes Path(const UserInfo& u, const std::string& verb, const std::string& path) {
  Attributes a;
  a.user = u;
  a.verb = verb;
  a.path = path;
  return a;
}

class RbacTest : public ::testing::Test {
 protected:
  void Add(const std::string& kind, const std::string& text) { rbac.Observe(kind, J(text), false); }
  RbacAuthorizer rbac;
};

TEST_F(RbacTest, RoleAndRoleBindingGrantOnlyInTheirNamespace) {
  Add("Role", R"({"metadata":{"namespace":"default","name":"pod-reader"},
                  "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","watch","list"]}]})");
  Add("RoleBinding", R"({"metadata":{"namespace":"default","name":"read-pods"},
                         "subjects":[{"kind":"User","name":"jane","apiGroup":"rbac.authorization.k8s.io"}],
                         "roleRef":{"kind":"Role","name":"pod-reader","apiGroup":"rbac.authorization.k8s.io"}})");
  UserInfo jane = User("jane");
  Decision d = rbac.Authorize(Res(jane, "get", "default", "", "pods", "web"));
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.reason, "RBAC: allowed by RoleBinding \"read-pods/default\" of Role \"pod-reader\" to User \"jane\"");
  EXPECT_TRUE(rbac.Authorize(Res(jane, "list", "default", "", "pods")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(jane, "delete", "default", "", "pods", "web")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(jane, "get", "other", "", "pods", "web")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(jane, "list", "", "", "pods")).allowed()) << "all namespaces";
  EXPECT_FALSE(rbac.Authorize(Res(jane, "get", "default", "apps", "pods", "web")).allowed()) << "another group";
  EXPECT_FALSE(rbac.Authorize(Res(jane, "get", "default", "", "pods", "web", "log")).allowed()) << "a subresource";
  EXPECT_FALSE(rbac.Authorize(Res(User("bob"), "get", "default", "", "pods", "web")).allowed());

  rbac.Observe("RoleBinding", J(R"({"metadata":{"namespace":"default","name":"read-pods"}})"), true);
  EXPECT_FALSE(rbac.Authorize(Res(jane, "get", "default", "", "pods", "web")).allowed()) << "binding removed";
}

TEST_F(RbacTest, RoleBindingToClusterRoleGrantsInItsNamespace) {
  Add("ClusterRole", R"({"metadata":{"name":"secret-reader"},
                         "rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get","watch","list"]}]})");
  Add("RoleBinding", R"({"metadata":{"namespace":"development","name":"read-secrets"},
                         "subjects":[{"kind":"User","name":"dave","apiGroup":"rbac.authorization.k8s.io"}],
                         "roleRef":{"kind":"ClusterRole","name":"secret-reader","apiGroup":"rbac.authorization.k8s.io"}})");
  UserInfo dave = User("dave");
  EXPECT_TRUE(rbac.Authorize(Res(dave, "get", "development", "", "secrets", "s")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(dave, "get", "production", "", "secrets", "s")).allowed());

  Add("ClusterRoleBinding", R"({"metadata":{"name":"read-secrets-global"},
                                "subjects":[{"kind":"Group","name":"manager","apiGroup":"rbac.authorization.k8s.io"}],
                                "roleRef":{"kind":"ClusterRole","name":"secret-reader","apiGroup":"rbac.authorization.k8s.io"}})");
  UserInfo boss = User("boss", {"manager"});
  EXPECT_TRUE(rbac.Authorize(Res(boss, "list", "", "", "secrets")).allowed()) << "everywhere";
  EXPECT_TRUE(rbac.Authorize(Res(boss, "get", "production", "", "secrets", "s")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(dave, "list", "", "", "secrets")).allowed());
}

TEST_F(RbacTest, ResourceNamesSubresourcesAndWildcards) {
  Add("ClusterRole", R"({"metadata":{"name":"r"},"rules":[
      {"apiGroups":[""],"resources":["configmaps"],"resourceNames":["my-configmap"],"verbs":["update","get"]},
      {"apiGroups":[""],"resources":["pods","pods/log"],"verbs":["get"]},
      {"apiGroups":["apps"],"resources":["*/scale"],"verbs":["patch"]},
      {"apiGroups":["batch"],"resources":["*"],"verbs":["*"]}]})");
  Add("ClusterRoleBinding", R"({"metadata":{"name":"b"},"subjects":[{"kind":"User","name":"u"}],
                                "roleRef":{"kind":"ClusterRole","name":"r"}})");
  UserInfo u = User("u");
  EXPECT_TRUE(rbac.Authorize(Res(u, "get", "ns", "", "configmaps", "my-configmap")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(u, "get", "ns", "", "configmaps", "other")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(u, "list", "ns", "", "configmaps")).allowed()) << "resourceNames never match a list";
  EXPECT_TRUE(rbac.Authorize(Res(u, "get", "ns", "", "pods", "p", "log")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(u, "get", "ns", "", "pods", "p", "exec")).allowed());
  EXPECT_TRUE(rbac.Authorize(Res(u, "patch", "ns", "apps", "deployments", "d", "scale")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(u, "patch", "ns", "apps", "deployments", "d")).allowed());
  EXPECT_TRUE(rbac.Authorize(Res(u, "deletecollection", "ns", "batch", "jobs")).allowed());
  EXPECT_TRUE(rbac.Authorize(Res(u, "create", "ns", "batch", "cronjobs")).allowed());
}

TEST_F(RbacTest, NonResourceUrlsExactAndPrefix) {
  Add("ClusterRole", R"({"metadata":{"name":"health"},"rules":[{"nonResourceURLs":["/healthz","/healthz/*"],"verbs":["get","post"]}]})");
  Add("ClusterRoleBinding", R"({"metadata":{"name":"health"},"subjects":[{"kind":"Group","name":"system:authenticated"}],
                                "roleRef":{"kind":"ClusterRole","name":"health"}})");
  UserInfo u = User("u");
  EXPECT_TRUE(rbac.Authorize(Path(u, "get", "/healthz")).allowed());
  EXPECT_TRUE(rbac.Authorize(Path(u, "post", "/healthz/etcd")).allowed());
  EXPECT_FALSE(rbac.Authorize(Path(u, "get", "/metrics")).allowed());
  EXPECT_FALSE(rbac.Authorize(Path(u, "delete", "/healthz")).allowed());
  // Non-resource rules never grant resources.
  EXPECT_FALSE(rbac.Authorize(Res(u, "get", "", "", "healthz")).allowed());
}

TEST_F(RbacTest, ServiceAccountSubjectsDefaultToTheBindingsNamespace) {
  Add("Role", R"({"metadata":{"namespace":"dev","name":"r"},"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]})");
  Add("RoleBinding", R"({"metadata":{"namespace":"dev","name":"b"},"subjects":[{"kind":"ServiceAccount","name":"builder"}],
                         "roleRef":{"kind":"Role","name":"r"}})");
  EXPECT_TRUE(rbac.Authorize(Res(User("system:serviceaccount:dev:builder"), "get", "dev", "", "pods", "p")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(User("system:serviceaccount:prod:builder"), "get", "dev", "", "pods", "p")).allowed());
}

TEST_F(RbacTest, MissingRolesGrantNothingAndAreNamedInTheReason) {
  Add("ClusterRoleBinding", R"({"metadata":{"name":"b"},"subjects":[{"kind":"User","name":"u"}],
                                "roleRef":{"kind":"ClusterRole","name":"nowhere"}})");
  Decision d = rbac.Authorize(Res(User("u"), "get", "", "", "nodes", "n"));
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.reason, "RBAC: clusterrole.rbac.authorization.k8s.io \"nowhere\" not found");
  Add("ClusterRole", R"({"metadata":{"name":"nowhere"},"rules":[{"apiGroups":[""],"resources":["nodes"],"verbs":["get"]}]})");
  EXPECT_TRUE(rbac.Authorize(Res(User("u"), "get", "", "", "nodes", "n")).allowed()) << "the role appeared later";
}

TEST_F(RbacTest, AggregatedClusterRolesFollowTheRolesTheySelect) {
  Add("ClusterRole", R"({"metadata":{"name":"monitoring"},
                         "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"rbac.example.com/aggregate-to-monitoring":"true"}}]},
                         "rules":[]})");
  Add("ClusterRoleBinding", R"({"metadata":{"name":"m"},"subjects":[{"kind":"User","name":"u"}],
                                "roleRef":{"kind":"ClusterRole","name":"monitoring"}})");
  EXPECT_FALSE(rbac.Authorize(Res(User("u"), "get", "", "", "services", "s")).allowed());
  Add("ClusterRole", R"({"metadata":{"name":"monitoring-endpoints","labels":{"rbac.example.com/aggregate-to-monitoring":"true"}},
                         "rules":[{"apiGroups":[""],"resources":["services","endpointslices","pods"],"verbs":["get","list","watch"]}]})");
  EXPECT_TRUE(rbac.Authorize(Res(User("u"), "get", "", "", "services", "s")).allowed());
  rbac.Observe("ClusterRole", J(R"({"metadata":{"name":"monitoring-endpoints"}})"), true);
  EXPECT_FALSE(rbac.Authorize(Res(User("u"), "get", "", "", "services", "s")).allowed());
}

TEST_F(RbacTest, BootstrapViewEditAdminNestAndViewHasNoSecrets) {
  for (const json::Value& r : BootstrapClusterRoles()) rbac.Observe("ClusterRole", r, false);
  for (const json::Value& b : BootstrapClusterRoleBindings()) rbac.Observe("ClusterRoleBinding", b, false);
  for (const char* role : {"view", "edit", "admin"}) {
    Add("RoleBinding", std::string(R"({"metadata":{"namespace":"team","name":")") + role +
                           R"("},"subjects":[{"kind":"User","name":")" + role + R"("}],"roleRef":{"kind":"ClusterRole","name":")" +
                           role + R"("}})");
  }
  EXPECT_TRUE(rbac.Authorize(Res(User("view"), "list", "team", "apps", "deployments")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(User("view"), "get", "team", "", "secrets", "s")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(User("view"), "create", "team", "", "pods")).allowed());
  EXPECT_TRUE(rbac.Authorize(Res(User("edit"), "create", "team", "", "pods")).allowed());
  EXPECT_TRUE(rbac.Authorize(Res(User("edit"), "get", "team", "", "secrets", "s")).allowed());
  EXPECT_TRUE(rbac.Authorize(Res(User("edit"), "list", "team", "apps", "deployments")).allowed()) << "edit includes view";
  EXPECT_FALSE(rbac.Authorize(Res(User("edit"), "create", "team", "rbac.authorization.k8s.io", "rolebindings")).allowed());
  EXPECT_TRUE(rbac.Authorize(Res(User("admin"), "create", "team", "rbac.authorization.k8s.io", "rolebindings")).allowed());
  EXPECT_TRUE(rbac.Authorize(Res(User("admin"), "delete", "team", "", "pods", "p")).allowed()) << "admin includes edit";
  // Defaults bound to every authenticated user: discovery and self reviews, nothing else.
  EXPECT_TRUE(rbac.Authorize(Path(User("anyone"), "get", "/apis/apps/v1")).allowed());
  EXPECT_TRUE(rbac.Authorize(Res(User("anyone"), "create", "", "authorization.k8s.io", "selfsubjectaccessreviews")).allowed());
  EXPECT_FALSE(rbac.Authorize(Res(User("anyone"), "list", "", "", "pods")).allowed());
  // The unauthenticated may read health and version only.
  UserInfo anonymous{kAnonymousUser, "", {kUnauthenticatedGroup}, {}};
  EXPECT_TRUE(rbac.Authorize(Path(anonymous, "get", "/version")).allowed());
  EXPECT_FALSE(rbac.Authorize(Path(anonymous, "get", "/api")).allowed());
}

TEST_F(RbacTest, RulesForListsWhatApplies) {
  Add("Role", R"({"metadata":{"namespace":"dev","name":"r"},"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]})");
  Add("RoleBinding", R"({"metadata":{"namespace":"dev","name":"b"},"subjects":[{"kind":"User","name":"u"}],"roleRef":{"kind":"Role","name":"r"}})");
  Add("RoleBinding", R"({"metadata":{"namespace":"dev","name":"gone"},"subjects":[{"kind":"User","name":"u"}],"roleRef":{"kind":"Role","name":"gone"}})");
  RulesForUser rules = rbac.RulesFor(User("u"), "dev");
  ASSERT_EQ(rules.rules.size(), 1u);
  EXPECT_EQ(rules.rules[0].resources, std::vector<std::string>{"pods"});
  ASSERT_EQ(rules.errors.size(), 1u);
  EXPECT_EQ(rules.errors[0], "role.rbac.authorization.k8s.io \"gone\" not found");
  EXPECT_TRUE(rbac.RulesFor(User("u"), "prod").rules.empty());
}

TEST(ForbiddenMessage, MatchesKubernetesText) {
  UserInfo jane{"jane", "", {"dev"}, {}};
  Attributes a = Res(jane, "get", "dev", "", "pods", "web");
  EXPECT_EQ(ForbiddenMessage(a, ""),
            "pods \"web\" is forbidden: User \"jane\" cannot get resource \"pods\" in API group \"\" in the namespace \"dev\"");
  a = Res(jane, "list", "", "apps", "deployments");
  EXPECT_EQ(ForbiddenMessage(a, ""),
            "deployments.apps is forbidden: User \"jane\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope");
  a = Res(jane, "get", "dev", "", "pods", "web", "log");
  EXPECT_EQ(ForbiddenMessage(a, "RBAC: role.rbac.authorization.k8s.io \"x\" not found"),
            "pods \"web\" is forbidden: User \"jane\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"dev\": "
            "RBAC: role.rbac.authorization.k8s.io \"x\" not found");
  EXPECT_EQ(ForbiddenMessage(Path(jane, "get", "/metrics"), ""), "forbidden: User \"jane\" cannot get path \"/metrics\"");
}

TEST(PolicyRule, UncoveredFindsWhatIsNotHeldAndMergesVerbs) {
  std::vector<PolicyRule> held = {{{"get", "list"}, {""}, {"pods", "configmaps"}, {}, {}},
                                  {{"*"}, {"apps"}, {"*/scale"}, {}, {}},
                                  {{"get"}, {""}, {"secrets"}, {"mine"}, {}},
                                  {{"get"}, {}, {}, {}, {"/logs/*"}}};
  EXPECT_TRUE(Uncovered(held, {{{"get"}, {""}, {"pods"}, {}, {}}}).empty());
  EXPECT_TRUE(Uncovered(held, {{{"patch"}, {"apps"}, {"deployments/scale"}, {}, {}}}).empty());
  EXPECT_TRUE(Uncovered(held, {{{"get"}, {""}, {"secrets"}, {"mine"}, {}}}).empty());
  EXPECT_TRUE(Uncovered(held, {{{"get"}, {}, {}, {}, {"/logs/x"}}}).empty());
  auto missing = Uncovered(held, {{{"get", "delete", "watch"}, {""}, {"pods", "secrets"}, {}, {}}});
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(DescribeRule(missing[0]), "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\" \"watch\"]}");
  EXPECT_EQ(DescribeRule(missing[1]), "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"delete\" \"watch\"]}");
  // A wildcard is only covered by a wildcard.
  EXPECT_EQ(Uncovered(held, {{{"*"}, {""}, {"pods"}, {}, {}}}).size(), 1u);
  EXPECT_EQ(Uncovered(held, {{{"get"}, {}, {}, {}, {"/metrics"}}}).size(), 1u);
}

TEST(PolicyRule, DescribesLikeKubernetes) {
  PolicyRule r{{"get"}, {""}, {"secrets"}, {}, {}};
  EXPECT_EQ(DescribeRule(r), "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}");
}

}  // namespace
}  // namespace berth::apiserver::auth::rbac
