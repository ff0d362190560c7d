// Pod Security Standards checks, with upstream's wording for the common violations.

#include "apiserver/registry/admission/pod_security.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"

namespace berth::apiserver::registry {
namespace {

json::Value J(const std::string& text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return *v;
}

std::string Check(PodSecurityLevel level, const std::string& spec) {
  return FormatViolations(CheckPodSecurity(level, json::Value::MakeObject(), J(spec)));
}

TEST(PodSecurity, PrivilegedAllowsEverything) {
  EXPECT_EQ(Check(PodSecurityLevel::kPrivileged, R"({"hostNetwork":true,"containers":[{"name":"c","image":"host"}]})"), "");
}

TEST(PodSecurity, BaselineRefusesHostAccessAndPrivilege) {
  EXPECT_EQ(Check(PodSecurityLevel::kBaseline, R"({"containers":[{"name":"c","image":"nginx"}]})"), "");
  EXPECT_EQ(Check(PodSecurityLevel::kBaseline,
                  R"({"hostNetwork":true,"hostPID":true,"containers":[{"name":"c","image":"nginx",
                      "securityContext":{"privileged":true}}]})"),
            "host namespaces (hostNetwork=true, hostPID=true), privileged (container \"c\" must not set "
            "securityContext.privileged=true)");
  EXPECT_EQ(Check(PodSecurityLevel::kBaseline,
                  R"({"containers":[{"name":"a","image":"x","ports":[{"containerPort":80,"hostPort":8080}],
                      "securityContext":{"capabilities":{"add":["NET_ADMIN","CHOWN"]}}}],
                      "volumes":[{"name":"h","hostPath":{"path":"/"}}]})"),
            "non-default capabilities (container \"a\" must not include \"NET_ADMIN\" in securityContext.capabilities.add), "
            "hostPath volumes (volume \"h\"), hostPort (container \"a\" uses hostPort 8080)");
  EXPECT_EQ(Check(PodSecurityLevel::kBaseline, R"({"containers":[{"name":"a","image":"host"},{"name":"b","image":"host"}]})"),
            "host filesystem (containers \"a\", \"b\" must not use image \"host\" (the node's root file system))");
  EXPECT_EQ(Check(PodSecurityLevel::kBaseline,
                  R"({"securityContext":{"seccompProfile":{"type":"Unconfined"},"sysctls":[{"name":"net.core.somaxconn","value":"1"}]},
                      "containers":[{"name":"a","image":"x"}]})"),
            "seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\"), "
            "forbidden sysctls (net.core.somaxconn)");
}

TEST(PodSecurity, RestrictedNamesWhatAPlainPodLacks) {
  EXPECT_EQ(Check(PodSecurityLevel::kRestricted, R"({"containers":[{"name":"c","image":"nginx"}]})"),
            "allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), "
            "unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), "
            "runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), "
            "seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
            "\"Localhost\")");
  EXPECT_EQ(Check(PodSecurityLevel::kRestricted,
                  R"({"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
                      "containers":[{"name":"c","image":"nginx","securityContext":{"allowPrivilegeEscalation":false,
                      "capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]}}}],
                      "volumes":[{"name":"d","emptyDir":{}},{"name":"s","secret":{"secretName":"x"}}]})"),
            "");
  EXPECT_EQ(Check(PodSecurityLevel::kRestricted,
                  R"({"securityContext":{"runAsNonRoot":true,"runAsUser":0,"seccompProfile":{"type":"RuntimeDefault"}},
                      "containers":[{"name":"c","image":"nginx","securityContext":{"allowPrivilegeEscalation":false,
                      "capabilities":{"drop":["ALL"]}}}],"volumes":[{"name":"h","hostPath":{"path":"/x"}}]})"),
            "restricted volume types (volume \"h\" uses restricted volume type \"hostPath\"), "
            "runAsUser=0 (pod must not set runAsUser=0)");
}

}  // namespace
}  // namespace berth::apiserver::registry
