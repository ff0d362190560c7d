// Admission refuses what Kubernetes refuses, naming the field, and stores nothing: every value
// here was once stored and then broke a controller, a client or the agent.

#include <algorithm>
#include <thread>
#include <atomic>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>
#include <string>

#include "apiserver/registry/admission/limit_ranger.h"
#include "apiserver/registry/admission/priority.h"
#include "apiserver/registry/admission/resource_quota.h"
#include "apiserver/registry/kinds/field_support.h"
#include "apiserver/registry/registry.h"
#include "apiserver/storage/memory/memory_store.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace berth {
std::map<std::string, std::string> EmbeddedSchemas();
}

namespace berth::apiserver::registry {
namespace {

class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.EnsureNamespace("default").ok());
    // As the apiserver runs: admission reads its small kinds from memory.
    ASSERT_TRUE(registry_.MirrorAdmissionKinds().ok());
  }
  const ResourceType& Type(const char* group, const char* plural) { return *catalog_->Find(group, "v1", plural); }

  // The create's status; on failure, the test checks that `field` is among the causes.
  absl::Status Create(const char* group, const char* plural, const std::string& body) {
    auto v = json::Parse(body);
    if (!v.ok()) return v.status();
    auto r = registry_.Create(Type(group, plural), "default", *v, {});
    return r.status();
  }
  static bool Names(const absl::Status& s, const std::string& field) {
    for (const auto& c : api::CausesOf(s)) {
      if (c.field == field) return true;
    }
    return false;
  }
  static std::string Pod(const std::string& container_extra, const std::string& spec_extra = "") {
    return R"({"metadata":{"name":"p"},"spec":{)" + spec_extra + R"("containers":[{"name":"c","image":"host")" +
           container_extra + "}]}}";
  }

  berth::testing::FakeClock clock_;
  storage::MemoryStore store_{clock_};
  std::unique_ptr<Catalog> catalog_ = Catalog::Builtin();
  Registry registry_{store_, *catalog_, *schema::SchemaSet::Load(EmbeddedSchemas()), clock_};
};

TEST_F(AdmissionTest, RequestsDefaultToLimitsAndExtendedResourcesAreExact) {
  // A limit without a request requests the limit (SetDefaults_Pod), so the scheduler counts it.
  const ResourceType& pods = Type("", "pods");
  auto created = registry_.Create(pods, "default",
                                  *json::Parse(Pod(R"(,"resources":{"limits":{"nvidia.com/gpu":"1","cpu":"1"},"requests":{"cpu":"500m"}})")),
                                  {});
  ASSERT_TRUE(created.ok()) << created.status();
  const json::Value& requests = *created->object.Get({"spec", "containers"})->as_array()[0].Get({"resources", "requests"});
  EXPECT_EQ(requests.GetString({"nvidia.com/gpu"}), "1");
  EXPECT_EQ(requests.GetString({"cpu"}), "500m");
  EXPECT_EQ(created->object.GetString({"status", "qosClass"}), "Burstable");

  struct Case {
    std::string resources, field, message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"limits":{"nvidia.com/gpu":"1"},"requests":{"nvidia.com/gpu":"2"}})",
            "spec.containers[0].resources.requests[nvidia.com/gpu]", "must be equal to nvidia.com/gpu limit of 1"},
           {R"({"requests":{"example.com/dongle":"1"}})", "spec.containers[0].resources.limits",
            "Limit must be set for non overcommitable resources"},
           {R"({"limits":{"nvidia.com/gpu":"500m"}})", "spec.containers[0].resources.limits[nvidia.com/gpu]",
            "must be an integer"},
           {R"({"limits":{"cpu":"1"},"requests":{"cpu":"2"}})", "spec.containers[0].resources.requests[cpu]",
            "must be less than or equal to cpu limit of 1"},
       }) {
    absl::Status s = Create("", "pods", Pod(R"(,"resources":)" + c.resources));
    EXPECT_EQ(api::ReasonOf(s), "Invalid") << c.resources << ": " << s;
    EXPECT_TRUE(Names(s, c.field)) << c.resources << ": " << s;
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s;
  }
}

TEST_F(AdmissionTest, QuantitiesFollowKubernetesGrammar) {
  for (const char* bad : {R"(".")", R"("1.5.3")", R"("10Gb")", R"("-1")", R"(true)"}) {
    absl::Status s = Create("", "pods", Pod(R"(,"resources":{"limits":{"cpu":)" + std::string(bad) + "}}"));
    EXPECT_EQ(api::ReasonOf(s), "Invalid") << bad << ": " << s;
    EXPECT_TRUE(Names(s, "spec.containers[0].resources.limits.cpu")) << bad << ": " << s;
  }
  EXPECT_TRUE(Create("", "pods", Pod(R"(,"resources":{"limits":{"cpu":0.5,"memory":"64Mi"}})")).ok());
  EXPECT_EQ(store_.Get("/registry/core/pods/default/p").status().code(), absl::StatusCode::kOk);
}

TEST_F(AdmissionTest, IntegersAreInt64WithoutExponent) {
  for (const char* bad : {"18446744073709551617", "1e18", "30.5", "1.0"}) {
    absl::Status s = Create("", "pods", Pod("", std::string(R"("terminationGracePeriodSeconds":)") + bad + ","));
    EXPECT_EQ(api::ReasonOf(s), "Invalid") << bad << ": " << s;
    EXPECT_TRUE(Names(s, "spec.terminationGracePeriodSeconds")) << bad << ": " << s;
  }
}

TEST_F(AdmissionTest, IntOrPercentFields) {
  auto ds = [](const std::string& mu) {
    return R"({"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},
      "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":)" + mu + R"(}},
      "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"host"}]}}}})";
  };
  absl::Status s = Create("apps", "daemonsets", ds(R"("x%")"));
  EXPECT_TRUE(Names(s, "spec.updateStrategy.rollingUpdate.maxUnavailable")) << s;
  EXPECT_FALSE(Create("apps", "daemonsets", ds("-1")).ok());
  EXPECT_FALSE(Create("apps", "daemonsets", ds(R"("5")")).ok());
  EXPECT_TRUE(Create("apps", "daemonsets", ds(R"("25%")")).ok());
}

TEST_F(AdmissionTest, AffinityInAnOldShapeIsRefused) {
  // nodeSelectorTerms given as a list directly under the required field (a pre-1.0 shape).
  absl::Status s = Create("", "pods", Pod("", R"("affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      [{"matchExpressions":[{"key":"a","operator":"In","values":["b"]}]}]}},)"));
  EXPECT_EQ(api::ReasonOf(s), "Invalid") << s;
  EXPECT_TRUE(Names(s, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution")) << s;
  EXPECT_TRUE(Create("", "pods", Pod("", R"("affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      {"nodeSelectorTerms":[{"matchExpressions":[{"key":"a","operator":"In","values":["b"]}]}]}}},)")).ok());
}

// Fields the agent reads with a type (runAsUser as an integer) are typed in the schema: a string
// there was stored and then ignored, so the container ran as root.
TEST_F(AdmissionTest, SecurityContextAndLifecycleHaveTheirShapes) {
  absl::Status s = Create("", "pods", Pod("", R"("securityContext":{"runAsUser":"1000"},)"));
  EXPECT_TRUE(Names(s, "spec.securityContext.runAsUser")) << s;
  s = Create("", "pods", Pod(R"(,"securityContext":{"capabilities":{"drop":"ALL"}})"));
  EXPECT_TRUE(Names(s, "spec.containers[0].securityContext.capabilities.drop")) << s;
  s = Create("", "pods", Pod(R"(,"lifecycle":{"preStop":{"exec":{"command":"sleep 5"}}})"));
  EXPECT_TRUE(Names(s, "spec.containers[0].lifecycle.preStop.exec.command")) << s;
  EXPECT_TRUE(Create("", "pods", Pod(R"(,"securityContext":{"runAsUser":1000,"capabilities":{"drop":["ALL"]}},)"
                                     R"("lifecycle":{"preStop":{"exec":{"command":["sleep","5"]}}})",
                                     R"("securityContext":{"runAsNonRoot":true,"fsGroup":2000},)")).ok());
}

TEST_F(AdmissionTest, ConfigMapKeysAndSize) {
  auto cm = [](const std::string& data) { return R"({"metadata":{"name":"c"},)" + data + "}"; };
  for (const char* key : {"../../etc/x", "a/b", "", "k\\u0000z", ".", "..", "..a"}) {
    absl::Status s = Create("", "configmaps", cm(std::string(R"("data":{")") + key + R"(":"v"})"));
    EXPECT_EQ(api::ReasonOf(s), "Invalid") << key << ": " << s;
  }
  absl::Status s = Create("", "configmaps", cm(R"("data":{")" + std::string(300, 'k') + R"(":"v"})"));
  EXPECT_EQ(api::ReasonOf(s), "Invalid") << s;
  s = Create("", "configmaps", cm(R"("data":{"k":"v"},"binaryData":{"k":"dg=="})"));
  EXPECT_TRUE(Names(s, "binaryData[k]")) << s;
  s = Create("", "configmaps", cm(R"("data":{"k":")" + std::string(1024 * 1024 + 1, 'x') + R"("})"));
  EXPECT_EQ(api::ReasonOf(s), "Invalid") << s;
  EXPECT_NE(s.message().find("1048576"), std::string::npos) << s;
  EXPECT_TRUE(Create("", "configmaps", cm(R"("data":{"app.conf":"x","KEY_2":"y","a-b":"z"})")).ok());
  s = Create("", "secrets", R"({"metadata":{"name":"s"},"stringData":{"a/b":"x"}})");
  EXPECT_EQ(api::ReasonOf(s), "Invalid") << s;
}

TEST_F(AdmissionTest, UnhonouredFieldsAreWarnedByPath) {
  auto v = json::Parse(R"({"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},
      "template":{"metadata":{"labels":{"a":"b"}},"spec":{"priorityClassName":"high","securityContext":{"fsGroup":2000},
      "containers":[{"name":"c","image":"host"},{"name":"d","image":"host","lifecycle":{"preStop":{"exec":{"command":["x"]}}},
      "livenessProbe":{"grpc":{"port":9000}}}]}}}})");
  auto r = registry_.Create(Type("apps", "deployments"), "default", *v, {});
  ASSERT_TRUE(r.ok()) << r.status();
  std::string all;
  for (const auto& w : r->warnings) all += w + "\n";
  EXPECT_EQ(all.find("lifecycle"), std::string::npos) << "hooks are run: no warning\n" << all;
  EXPECT_EQ(all.find("grpc"), std::string::npos) << "gRPC probes are run: no warning\n" << all;
  EXPECT_EQ(all.find("priorityClassName"), std::string::npos) << "priorities are honoured: no warning\n" << all;
  EXPECT_EQ(all.find("fsGroup"), std::string::npos) << "fsGroup is honoured: no warning\n" << all;
  EXPECT_EQ(all.find("containers[0]"), std::string::npos) << all;
}

TEST_F(AdmissionTest, IndexedJobsAreRefusedNotRunWrong) {
  absl::Status s = Create("batch", "jobs", R"({"metadata":{"name":"j"},"spec":{"completionMode":"Indexed","completions":3,
      "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"host"}]}}}})");
  EXPECT_TRUE(Names(s, "spec.completionMode")) << s;
  EXPECT_NE(s.message().find("JOB_COMPLETION_INDEX"), std::string::npos) << s;
  // Native sidecars run (kubelet-like-agent/sync): accepted.
  EXPECT_TRUE(Create("", "pods", Pod("", R"("initContainers":[{"name":"side","image":"host","restartPolicy":"Always"}],)")).ok());
  EXPECT_EQ(store_.Get("/registry/batch/jobs/default/j").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AdmissionTest, ImmutableConfigMapsAndSecretsStayAsTheyAre) {
  ASSERT_TRUE(Create("", "configmaps", R"({"metadata":{"name":"frozen"},"immutable":true,"data":{"k":"v"}})").ok());
  const ResourceType& cms = Type("", "configmaps");
  auto changed = registry_.Patch(cms, "default", "frozen", PatchType::kMerge, *json::Parse(R"({"data":{"k":"w"}})"),
                                 Subresource::kNone, {});
  EXPECT_TRUE(Names(changed.status(), "data")) << changed.status();
  auto thawed = registry_.Patch(cms, "default", "frozen", PatchType::kMerge, *json::Parse(R"({"immutable":false})"),
                                Subresource::kNone, {});
  EXPECT_TRUE(Names(thawed.status(), "immutable")) << thawed.status();
  auto labelled = registry_.Patch(cms, "default", "frozen", PatchType::kMerge,
                                  *json::Parse(R"({"metadata":{"labels":{"a":"b"}}})"), Subresource::kNone, {});
  EXPECT_TRUE(labelled.ok()) << "metadata still changes: " << labelled.status();
  ASSERT_TRUE(Create("", "secrets", R"({"metadata":{"name":"s"},"type":"Opaque","data":{"k":"dg=="}})").ok());
  auto retyped = registry_.Patch(Type("", "secrets"), "default", "s", PatchType::kMerge,
                                 *json::Parse(R"({"type":"kubernetes.io/tls"})"), Subresource::kNone, {});
  EXPECT_TRUE(Names(retyped.status(), "type")) << retyped.status();
}

// Every row of the table works through the real matcher: an object that sets the field gets a
// warning (or a refusal) naming it at its concrete path.
TEST(FieldSupportTest, EveryRuleNamesItsFieldWhenSet) {
  for (const kinds::FieldRule& rule : kinds::FieldRules()) {
    std::string kind = rule.scope == "PodSpec" ? "Pod" : rule.scope == "JobSpec" ? "Job" : std::string(rule.scope);
    std::string dotted = (rule.scope == "PodSpec" || rule.scope == "JobSpec" ? "spec." : "") + std::string(rule.path);
    json::Value object = json::Value::MakeObject();
    json::Value* cur = &object;
    std::string expected;
    std::vector<std::string_view> steps = Split(dotted, '.');
    for (size_t i = 0; i < steps.size(); ++i) {
      std::string_view step = steps[i];
      bool each = step.size() > 2 && step.substr(step.size() - 2) == "[]";
      std::string name(each ? step.substr(0, step.size() - 2) : step);
      expected += (expected.empty() ? "" : ".") + name + (each ? "[0]" : "");
      json::Value leaf = rule.when.empty() ? *json::Parse(R"({"set":1})")
                         : rule.when == "true" || rule.when == "false" ? json::Value(rule.when == "true")
                                                                       : json::Value(std::string(rule.when));
      if (i + 1 == steps.size()) {
        if (each) {
          json::Value list = json::Value::MakeArray();
          list.as_array().push_back(leaf);
          cur->Set(name, std::move(list));
        } else {
          cur->Set(name, leaf);
        }
      } else if (each) {
        json::Value list = json::Value::MakeArray();
        list.as_array().push_back(json::Value::MakeObject());
        cur = &cur->Set(name, std::move(list)).as_array()[0];
      } else {
        cur = &cur->Set(name, json::Value::MakeObject());
      }
    }
    bool named = false;
    if (rule.support == kinds::Support::kWarn) {
      for (const std::string& w : kinds::UnhonouredFieldWarnings(kind, object)) named = named || w.rfind(expected + ": ", 0) == 0;
    } else {
      for (const api::Cause& c : kinds::UnsupportedFieldCauses(kind, object)) named = named || c.field == expected;
    }
    EXPECT_TRUE(named) << rule.scope << " " << rule.path << " (expected " << expected << ")";
    // The same object without the field says nothing about it.
  }
  EXPECT_TRUE(kinds::UnhonouredFieldWarnings("Pod", *json::Parse(R"({"spec":{"containers":[{"name":"c"}]}})")).empty());
}

TEST(CompatibilityDocTest, DocsMatchTheTableTheServerUses) {
  std::ifstream in(std::string(BERTH_SOURCE_DIR) + "/docs/compatibility.md");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), kinds::CompatibilityDocument())
      << "regenerate: build/bin/berth-apiserver --print-compatibility > docs/compatibility.md";
}

// Kubernetes' Priority admission plugin through the registry (brief scenario S1 and the rules
// around it).
class PriorityAdmissionTest : public AdmissionTest {
 protected:
  void SetUp() override {
    AdmissionTest::SetUp();
    registry_.AddAdmissionPlugin(PriorityAdmission());
    ASSERT_TRUE(EnsureSystemPriorityClasses(registry_).ok());
  }
  absl::StatusOr<WriteResult> Class(const std::string& name, int64_t value, bool global_default = false,
                                    const std::string& extra = "") {
    return registry_.Create(Type("scheduling.k8s.io", "priorityclasses"), "",
                            *json::Parse(StrCat(R"({"metadata":{"name":")", name, R"("},"value":)", value,
                                                R"(,"globalDefault":)", global_default ? "true" : "false", extra, "}")),
                            {});
  }
  absl::StatusOr<WriteResult> NamedPod(const std::string& name, const std::string& spec_extra) {
    std::string body = Pod("", spec_extra);
    body.replace(body.find(R"("name":"p")"), 10, StrCat(R"("name":")", name, "\""));
    return registry_.Create(Type("", "pods"), "default", *json::Parse(body), {});
  }
};

TEST_F(PriorityAdmissionTest, PodsGetTheirClassPriorityAndBadClassesAreForbidden) {
  ASSERT_TRUE(Class("high", 1000).ok());
  auto high = NamedPod("a", R"("priorityClassName":"high",)");
  ASSERT_TRUE(high.ok()) << high.status();
  EXPECT_EQ(high->object.Get({"spec", "priority"})->as_int(), 1000);
  EXPECT_EQ(high->object.GetString({"spec", "preemptionPolicy"}), "PreemptLowerPriority");

  auto nope = NamedPod("b", R"("priorityClassName":"nope",)");
  EXPECT_EQ(nope.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(nope.status().message(), R"(pods "b" is forbidden: no PriorityClass with name nope was found)");
  EXPECT_FALSE(registry_.Get(Type("", "pods"), "default", "b").ok()) << "nothing stored";

  auto mismatch = NamedPod("c", R"("priorityClassName":"high","priority":5,)");
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(mismatch.status().message().find("the integer value of priority (5) must not be provided in pod spec; "
                                             "priority admission controller computed 1000"),
            std::string::npos)
      << mismatch.status();
  ASSERT_TRUE(Class("never", 10, false, R"(,"preemptionPolicy":"Never")").ok());
  auto never = NamedPod("d", R"("priorityClassName":"never",)");
  ASSERT_TRUE(never.ok()) << never.status();
  EXPECT_EQ(never->object.GetString({"spec", "preemptionPolicy"}), "Never");

  // No class named and no default: priority 0. A default class applies to pods naming none.
  auto plain = NamedPod("e", "");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->object.Get({"spec", "priority"})->as_int(), 0);
  EXPECT_EQ(plain->object.Find("spec")->Find("priorityClassName"), nullptr);
  ASSERT_TRUE(Class("fallback", 7, true).ok());
  auto defaulted = NamedPod("f", "");
  ASSERT_TRUE(defaulted.ok());
  EXPECT_EQ(defaulted->object.GetString({"spec", "priorityClassName"}), "fallback");
  EXPECT_EQ(defaulted->object.Get({"spec", "priority"})->as_int(), 7);

  // An update that leaves the resolved fields out keeps them.
  json::Value update = defaulted->object;
  update.Find("spec")->Erase("priority");
  update.Find("spec")->Erase("preemptionPolicy");
  update.Ensure({"metadata", "labels"}).Set("x", "y");
  auto updated = registry_.Update(Type("", "pods"), "default", "f", update, Subresource::kNone, {});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->object.Get({"spec", "priority"})->as_int(), 7);
}

TEST_F(PriorityAdmissionTest, ClassesFollowKubernetesRules) {
  const ResourceType& pcs = Type("scheduling.k8s.io", "priorityclasses");
  auto node_critical = registry_.Get(pcs, "", "system-node-critical");
  ASSERT_TRUE(node_critical.ok());
  EXPECT_NE(node_critical->find(R"("value":2000001000)"), std::string::npos) << *node_critical;
  auto cluster_critical = registry_.Get(pcs, "", "system-cluster-critical");
  ASSERT_TRUE(cluster_critical.ok());
  EXPECT_NE(cluster_critical->find(R"("value":2000000000)"), std::string::npos);

  ASSERT_TRUE(Class("first", 10, true).ok());
  auto second = Class("second", 20, true);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(second.status().message(),
            R"(priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is already marked as default. Only one default can exist)");
  // Marking another class default by update is refused too; re-marking the default itself is not.
  ASSERT_TRUE(Class("second", 20).ok());
  auto patch = registry_.Patch(pcs, "", "second", PatchType::kMerge, *json::Parse(R"({"globalDefault":true})"),
                               Subresource::kNone, {});
  EXPECT_EQ(patch.status().code(), absl::StatusCode::kPermissionDenied) << patch.status();
  EXPECT_TRUE(registry_.Patch(pcs, "", "first", PatchType::kMerge, *json::Parse(R"({"description":"d"})"),
                              Subresource::kNone, {})
                  .ok());

  auto too_high = Class("too-high", 1000000001);
  EXPECT_EQ(api::ReasonOf(too_high.status()), "Invalid");
  EXPECT_TRUE(Names(too_high.status(), "value")) << too_high.status();
  EXPECT_NE(too_high.status().message().find("maximum allowed value of a user defined priority is 1000000000"),
            std::string::npos);
  auto reserved = Class("system-mine", 5);
  EXPECT_TRUE(Names(reserved.status(), "metadata.name")) << reserved.status();
  EXPECT_NE(reserved.status().message().find("system-mine is not a known system priority class"), std::string::npos);

  auto change = registry_.Patch(pcs, "", "second", PatchType::kMerge, *json::Parse(R"({"value":21})"), Subresource::kNone, {});
  EXPECT_TRUE(Names(change.status(), "value")) << change.status();

  auto del = registry_.Delete(pcs, "", "system-node-critical", {});
  EXPECT_EQ(del.status().message(),
            R"(priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: this is a system priority class and cannot be deleted)");
  EXPECT_TRUE(registry_.Delete(pcs, "", "second", {}).ok());
}

// ResourceQuota admission (brief S7): the third 1-CPU pod under a 2-CPU quota is refused with
// Kubernetes' message; used is raised as pods are admitted; scopes decide which pods count.
class QuotaAdmissionTest : public AdmissionTest {
 protected:
  void SetUp() override {
    AdmissionTest::SetUp();
    registry_.AddAdmissionPlugin(PriorityAdmission());
    registry_.AddAdmissionPlugin(ResourceQuotaAdmission(registry_));
  }
  absl::Status CpuPod(const std::string& name, const std::string& cpu, const std::string& spec_extra = "") {
    std::string body = StrCat(R"({"metadata":{"name":")", name, R"("},"spec":{)", spec_extra,
                              R"("containers":[{"name":"c","image":"host","resources":{"requests":{"cpu":")", cpu, R"("}}}]}})");
    return registry_.Create(Type("", "pods"), "default", *json::Parse(body), {}).status();
  }
  json::Value Quota(const std::string& name) {
    return *json::Parse(*registry_.Get(Type("", "resourcequotas"), "default", name));
  }
};

// Creates are admitted on a small pool unless they may charge a quota, which waits for that
// charge's commit: the answer follows the namespace's ResourceQuotas as they come and go.
TEST_F(QuotaAdmissionTest, OnlyANamespaceWithAQuotaMakesCreatesWaitForACommit) {
  ASSERT_TRUE(registry_.EnsureNamespace("other").ok());
  EXPECT_FALSE(registry_.CreateMayWaitForCommit("default"));
  EXPECT_FALSE(registry_.CreateMayWaitForCommit(""));
  ASSERT_TRUE(registry_.Create(Type("", "resourcequotas"), "default",
                               *json::Parse(R"({"metadata":{"name":"q"},"spec":{"hard":{"pods":"10"}}})"), {})
                  .ok());
  EXPECT_TRUE(registry_.CreateMayWaitForCommit("default"));
  EXPECT_FALSE(registry_.CreateMayWaitForCommit("other"));
  EXPECT_FALSE(registry_.CreateMayWaitForCommit(""));
  ASSERT_TRUE(registry_.Delete(Type("", "resourcequotas"), "default", "q", {}).ok());
  EXPECT_FALSE(registry_.CreateMayWaitForCommit("default"));
}

TEST_F(QuotaAdmissionTest, ExceededQuotaIsForbiddenWithKubernetesMessage) {
  ASSERT_TRUE(registry_.Create(Type("", "resourcequotas"), "default",
                               *json::Parse(R"({"metadata":{"name":"q"},"spec":{"hard":{"requests.cpu":"2","pods":"10"}}})"), {})
                  .ok());
  ASSERT_TRUE(CpuPod("p1", "1").ok());
  ASSERT_TRUE(CpuPod("p2", "1").ok());
  EXPECT_EQ(Quota("q").GetString({"status", "used", "requests.cpu"}), "2");
  EXPECT_EQ(Quota("q").GetString({"status", "used", "pods"}), "2");
  absl::Status third = CpuPod("p3", "1");
  EXPECT_EQ(third.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(third.message(),
            R"(pods "p3" is forbidden: exceeded quota: q, requested: requests.cpu=1, used: requests.cpu=2, limited: requests.cpu=2)");
  EXPECT_FALSE(registry_.Get(Type("", "pods"), "default", "p3").ok());
  EXPECT_EQ(Quota("q").GetString({"status", "used", "requests.cpu"}), "2") << "a refused pod charges nothing";
  // A pod without a cpu request cannot be counted against requests.cpu.
  absl::Status unstated = registry_.Create(Type("", "pods"), "default",
                                           *json::Parse(R"({"metadata":{"name":"p4"},"spec":{"containers":[{"name":"c","image":"host"}]}})"), {}).status();
  EXPECT_EQ(unstated.message(), R"(pods "p4" is forbidden: failed quota: q: must specify requests.cpu)");
  ASSERT_TRUE(registry_.Delete(Type("", "pods"), "default", "p2", {}).ok());
  EXPECT_EQ(Quota("q").GetString({"status", "used", "requests.cpu"}), "2") << "the quota controller frees it, not admission";
}

TEST_F(QuotaAdmissionTest, ScopesSelectWhichPodsCountAndCountsCoverOtherKinds) {
  ASSERT_TRUE(registry_.Create(Type("scheduling.k8s.io", "priorityclasses"), "",
                               *json::Parse(R"({"metadata":{"name":"high"},"value":1000})"), {}).ok());
  ASSERT_TRUE(registry_.Create(Type("", "resourcequotas"), "default", *json::Parse(R"({"metadata":{"name":"high-only"},
      "spec":{"hard":{"pods":"1"},"scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":"In","values":["high"]}]}}})"), {}).ok());
  ASSERT_TRUE(registry_.Create(Type("", "resourcequotas"), "default",
                               *json::Parse(R"({"metadata":{"name":"objects"},"spec":{"hard":{"configmaps":"1","count/secrets":"0"}}})"), {}).ok());
  ASSERT_TRUE(CpuPod("plain-1", "1").ok());
  ASSERT_TRUE(CpuPod("plain-2", "1").ok()) << "pods of other classes are not counted";
  ASSERT_TRUE(CpuPod("high-1", "1", R"("priorityClassName":"high",)").ok());
  EXPECT_NE(CpuPod("high-2", "1", R"("priorityClassName":"high",)").message().find("exceeded quota: high-only, requested: pods=1, used: pods=1, limited: pods=1"),
            std::string::npos);
  ASSERT_TRUE(registry_.Create(Type("", "configmaps"), "default", *json::Parse(R"({"metadata":{"name":"a"}})"), {}).ok());
  auto second = registry_.Create(Type("", "configmaps"), "default", *json::Parse(R"({"metadata":{"name":"b"}})"), {});
  EXPECT_NE(second.status().message().find("exceeded quota: objects, requested: configmaps=1, used: configmaps=1, limited: configmaps=1"),
            std::string::npos) << second.status();
  auto secret = registry_.Create(Type("", "secrets"), "default", *json::Parse(R"({"metadata":{"name":"s"}})"), {});
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(QuotaAdmissionTest, ConcurrentCreatesNeverExceedTheQuota) {
  ASSERT_TRUE(registry_.Create(Type("", "resourcequotas"), "default",
                               *json::Parse(R"({"metadata":{"name":"q"},"spec":{"hard":{"pods":"20"}}})"), {}).ok());
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        if (CpuPod(StrCat("c-", t, "-", i), "10m").ok()) ++admitted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 20);
  EXPECT_EQ(Quota("q").GetString({"status", "used", "pods"}), "20");
}

// LimitRanger: defaults from the namespace's LimitRange, then min / max / ratio (403 with
// Kubernetes' texts); the LimitRange itself is validated and defaulted.
class LimitRangerTest : public AdmissionTest {
 protected:
  void SetUp() override {
    AdmissionTest::SetUp();
    registry_.AddAdmissionPlugin(LimitRangerAdmission());
  }
  absl::StatusOr<WriteResult> PodWith(const std::string& name, const std::string& resources) {
    std::string body = StrCat(R"({"metadata":{"name":")", name, R"("},"spec":{"containers":[{"name":"c","image":"host")",
                              resources.empty() ? "" : R"(,"resources":)" + resources, "}]}}");
    return registry_.Create(Type("", "pods"), "default", *json::Parse(body), {});
  }
};

TEST_F(LimitRangerTest, DefaultsThenBounds) {
  auto range = registry_.Create(Type("", "limitranges"), "default", *json::Parse(R"({"metadata":{"name":"lr"},"spec":{"limits":[
      {"type":"Container","default":{"cpu":"500m"},"defaultRequest":{"cpu":"250m"},"min":{"cpu":"100m"},"max":{"cpu":"1","memory":"1Gi"},
       "maxLimitRequestRatio":{"cpu":"4"}}]}})"), {});
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->object.Get({"spec", "limits"})->as_array()[0].GetString({"default", "memory"}), "1Gi") << "max defaults the limit";

  auto defaulted = PodWith("plain", "");
  ASSERT_TRUE(defaulted.ok()) << defaulted.status();
  const json::Value& res = *defaulted->object.Get({"spec", "containers"})->as_array()[0].Find("resources");
  EXPECT_EQ(res.GetString({"limits", "cpu"}), "500m");
  EXPECT_EQ(res.GetString({"requests", "cpu"}), "250m");
  EXPECT_EQ(res.GetString({"limits", "memory"}), "1Gi");
  EXPECT_EQ(defaulted->object.GetString({"metadata", "annotations", "kubernetes.io/limit-ranger"}),
            "LimitRanger plugin set: cpu limit for container c; memory limit for container c; cpu request for container c; "
            "memory request for container c");
  EXPECT_EQ(defaulted->object.GetString({"status", "qosClass"}), "Burstable");

  EXPECT_EQ(PodWith("small", R"({"requests":{"cpu":"50m"},"limits":{"cpu":"100m"}})").status().message(),
            R"(pods "small" is forbidden: minimum cpu usage per Container is 100m, but request is 50m)");
  EXPECT_EQ(PodWith("big", R"({"limits":{"cpu":"2"},"requests":{"cpu":"1"}})").status().message(),
            R"(pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2)");
  EXPECT_EQ(PodWith("skewed", R"({"limits":{"cpu":"1"},"requests":{"cpu":"200m"}})").status().message(),
            R"(pods "skewed" is forbidden: cpu max limit to request ratio per Container is 4, but provided ratio is 5.000000)");
}

TEST_F(LimitRangerTest, LimitRangesAreValidated) {
  auto inverted = registry_.Create(Type("", "limitranges"), "default", *json::Parse(R"({"metadata":{"name":"x"},"spec":{"limits":[
      {"type":"Container","min":{"cpu":"2"},"max":{"cpu":"1"}}]}})"), {});
  EXPECT_NE(inverted.status().message().find("min value 2 is greater than max value 1"), std::string::npos) << inverted.status();
  auto pod_default = registry_.Create(Type("", "limitranges"), "default", *json::Parse(R"({"metadata":{"name":"x"},"spec":{"limits":[
      {"type":"Pod","default":{"cpu":"1"}}]}})"), {});
  EXPECT_NE(pod_default.status().message().find("spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"),
            std::string::npos) << pod_default.status();
}

}  // namespace
}  // namespace berth::apiserver::registry
