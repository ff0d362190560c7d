// File: unit/controllers/builtin/endpointslice/slice_plan_test.cc
#include "controllers/builtin/endpointslice/slice_plan.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/json/codec.h"

namespace berth::controllers::builtin {
namespace {

json::Value J(const std::string& s) { return *json::Parse(s); }

json::Value Service(const std::string& target = "8080") {
  return J(R"({"metadata":{"name":"web","namespace":"default","uid":"svc-uid","labels":{"tier":"front"}},
    "spec":{"selector":{"app":"web"},"clusterIP":"10.96.0.37","ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":)" +
           target + "}]}}");
}

json::Value Pod(const std::string& name, const std::string& ip, bool ready, bool terminating = false,
                const std::string& phase = "Running", int container_port = 8080) {
  return J(absl::StrCat(R"({"metadata":{"name":")", name, R"(","namespace":"default","uid":"uid-)", name,
                        R"(","labels":{"app":"web"})", terminating ? R"(,"deletionTimestamp":"2026-01-01T00:00:00Z")" : "",
                        R"(},"spec":{"nodeName":"n1","containers":[{"name":"c","ports":[{"name":"web","containerPort":)",
                        container_port, R"(}]}]},"status":{"phase":")", phase, R"(","podIP":")", ip,
                        R"(","conditions":[{"type":"Ready","status":")", ready ? "True" : "False", R"("}]}})"));
}

TEST(SlicePlan, ConditionsFollowReadinessAndTermination) {
  json::Value svc = Service();
  json::Value a = Pod("a", "10.244.0.2", true), b = Pod("b", "10.244.0.3", false), c = Pod("c", "10.244.0.4", true, true);
  json::Value done = Pod("d", "10.244.0.5", true, false, "Succeeded"), noip = Pod("e", "", true);
  json::Value other = Pod("f", "10.244.0.6", true);
  other["metadata"]["labels"].Set("app", "db");
  auto desired = DesiredEndpoints(svc, {&a, &b, &c, &done, &noip, &other});
  ASSERT_EQ(desired.size(), 3u);
  auto cond = [&](size_t i) { return json::Serialize(*desired[i].endpoint.Find("conditions")); };
  EXPECT_EQ(cond(0), R"({"ready":true,"serving":true,"terminating":false})");
  EXPECT_EQ(cond(1), R"({"ready":false,"serving":false,"terminating":false})");
  EXPECT_EQ(cond(2), R"({"ready":false,"serving":true,"terminating":true})");
  EXPECT_EQ(desired[0].endpoint.GetString({"targetRef", "uid"}), "uid-a");
  EXPECT_EQ(desired[0].endpoint.GetString({"nodeName"}), "n1");
  svc["spec"].Set("publishNotReadyAddresses", true);
  EXPECT_EQ(json::Serialize(*DesiredEndpoints(svc, {&b})[0].endpoint.Find("conditions")),
            R"({"ready":true,"serving":false,"terminating":false})");
}

TEST(SlicePlan, NamedTargetPortsSplitSlicesAndSlicesHoldAtMostOneHundred) {
  json::Value svc = Service(R"("web")");
  std::vector<json::Value> pods;
  for (int i = 0; i < 150; ++i) pods.push_back(Pod(absl::StrCat("p", i), absl::StrCat("10.244.", i / 200, ".", i + 2), true));
  json::Value odd = Pod("odd", "10.244.1.9", true, false, "Running", 9090);
  std::vector<const json::Value*> raw;
  for (const auto& p : pods) raw.push_back(&p);
  raw.push_back(&odd);
  SlicePlan plan = PlanSlices(svc, DesiredEndpoints(svc, raw), {}, "2026-01-01T00:00:00.5Z");
  ASSERT_EQ(plan.create.size(), 3u);  // 100 + 50 on 8080, 1 on 9090
  size_t total = 0;
  for (const json::Value& s : plan.create) {
    total += s.Find("endpoints")->as_array().size();
    EXPECT_LE(s.Find("endpoints")->as_array().size(), 100u);
    EXPECT_EQ(s.GetString({"metadata", "labels", "kubernetes.io/service-name"}), "web");
    EXPECT_EQ(s.GetString({"metadata", "labels", "endpointslice.kubernetes.io/managed-by"}), "endpointslice-controller.k8s.io");
    EXPECT_EQ(s.GetString({"metadata", "labels", "tier"}), "front");  // the Service's labels
    EXPECT_EQ(s.Get({"metadata", "ownerReferences"})->as_array()[0].GetString({"uid"}), "svc-uid");
    EXPECT_EQ(s.GetString({"metadata", "annotations", "endpoints.kubernetes.io/last-change-trigger-time"}), "2026-01-01T00:00:00.5Z");
    EXPECT_EQ(s.GetString({"metadata", "generateName"}), "web-");
  }
  EXPECT_EQ(total, 151u);
  EXPECT_TRUE(plan.update.empty() && plan.remove.empty());
}

json::Value Stored(json::Value slice, const std::string& name) {
  slice["metadata"].Set("name", name);
  slice["metadata"].Set("resourceVersion", "7");
  return slice;
}

TEST(SlicePlan, ChangesWriteOnlyTheSlicesTheyTouch) {
  json::Value svc = Service();
  json::Value a = Pod("a", "10.244.0.2", true), b = Pod("b", "10.244.0.3", true);
  SlicePlan first = PlanSlices(svc, DesiredEndpoints(svc, {&a, &b}), {}, "");
  ASSERT_EQ(first.create.size(), 1u);
  json::Value s1 = Stored(first.create[0], "web-abcde");
  // Nothing changed: nothing written.
  SlicePlan same = PlanSlices(svc, DesiredEndpoints(svc, {&a, &b}), {&s1}, "t");
  EXPECT_TRUE(same.create.empty() && same.update.empty() && same.remove.empty());
  // One pod terminating: one update, in place.
  json::Value b_term = Pod("b", "10.244.0.3", true, true);
  SlicePlan term = PlanSlices(svc, DesiredEndpoints(svc, {&a, &b_term}), {&s1}, "t");
  ASSERT_EQ(term.update.size(), 1u);
  EXPECT_EQ(term.update[0].GetString({"metadata", "name"}), "web-abcde");
  EXPECT_EQ(term.update[0].GetString({"metadata", "resourceVersion"}), "7");
  // All pods gone: one empty slice stays (the placeholder); a slice of other ports goes.
  SlicePlan none = PlanSlices(svc, {}, {&s1}, "t");
  ASSERT_EQ(none.remove.size(), 1u);
  ASSERT_EQ(none.create.size(), 1u);
  EXPECT_TRUE(none.create[0].Find("endpoints")->as_array().empty());
  EXPECT_FALSE(ServiceSelects(J(R"({"metadata":{"namespace":"default"},"spec":{}})"), a));  // no selector: not ours
}

}  // namespace
}  // namespace berth::controllers::builtin
