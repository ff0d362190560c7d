#include "controllers/builtin/scheduler/scheduler.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::controllers::builtin {
namespace {

json::Value J(const char* s) { return *json::Parse(s); }

json::Value Node(const char* extra = "") {
  std::string s = std::string(R"({"metadata":{"name":"n1","labels":{"zone":"a","size":"8"}},"spec":{)") + extra +
                  R"(},"status":{"allocatable":{"cpu":"2","memory":"4Gi","pods":"3"},"conditions":[{"type":"Ready","status":"True"}]}})";
  return J(s.c_str());
}

json::Value Pod(const char* spec_extra = "") {
  std::string s = std::string(R"({"metadata":{"name":"p"},"spec":{)") + spec_extra +
                  R"("containers":[{"name":"c","resources":{"requests":{"cpu":"500m","memory":"1Gi"}},"ports":[{"containerPort":80,"hostPort":8080}]}]}})";
  return J(s.c_str());
}

TEST(SchedulerTest, RequestsSumContainersAndMaxInit) {
  auto pod = J(R"({"spec":{"containers":[{"resources":{"requests":{"cpu":"100m","memory":"1Mi"}}},{"resources":{"requests":{"cpu":"200m"}}}],
                 "initContainers":[{"resources":{"requests":{"cpu":"1"}}}]}})");
  PodRequests r = RequestsOf(pod);
  EXPECT_EQ(r.cpu_milli, 1000);
  EXPECT_EQ(r.memory_milli, 1048576000);
}

TEST(SchedulerTest, FitsAndResourceFilters) {
  json::Value pod = Pod();
  PodRequests r = RequestsOf(pod);
  EXPECT_EQ(FitError(pod, r, Node(), 0, 0, 0, {}), "");
  EXPECT_EQ(FitError(pod, r, Node(), 1600, 0, 0, {}), "Insufficient cpu");
  EXPECT_EQ(FitError(pod, r, Node(), 0, int64_t{4} * 1073741824 * 1000 - 1, 0, {}), "Insufficient memory");
  EXPECT_EQ(FitError(pod, r, Node(), 0, 0, 3000, {}), "Too many pods");
  EXPECT_EQ(FitError(pod, r, Node(), 0, 0, 0, {8080}), "node(s) didn't have free ports for the requested pod ports");
}

TEST(SchedulerTest, TaintsTolerationsSelectorsAffinity) {
  json::Value tainted = Node(R"("taints":[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}])");
  json::Value pod = Pod();
  PodRequests r = RequestsOf(pod);
  EXPECT_EQ(FitError(pod, r, tainted, 0, 0, 0, {}), "node(s) had untolerated taint {dedicated: gpu}");
  json::Value tolerant = Pod(R"("tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}],)");
  EXPECT_EQ(FitError(tolerant, r, tainted, 0, 0, 0, {}), "");
  json::Value exists = Pod(R"("tolerations":[{"operator":"Exists"}],)");
  EXPECT_EQ(FitError(exists, r, tainted, 0, 0, 0, {}), "");
  EXPECT_EQ(FitError(Pod(R"("nodeSelector":{"zone":"b"},)"), r, Node(), 0, 0, 0, {}),
            "node(s) didn't match Pod's node affinity/selector");
  EXPECT_EQ(FitError(Pod(R"("nodeSelector":{"zone":"a"},)"), r, Node(), 0, 0, 0, {}), "");
  json::Value affinity = Pod(R"("affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
      {"matchExpressions":[{"key":"size","operator":"Gt","values":["4"]},{"key":"zone","operator":"In","values":["a","c"]}]}]}}},)");
  EXPECT_EQ(FitError(affinity, r, Node(), 0, 0, 0, {}), "");
  json::Value unsched = Node(R"("unschedulable":true)");
  EXPECT_EQ(FitError(pod, r, unsched, 0, 0, 0, {}), "node(s) were unschedulable");
  json::Value notready = J(R"({"metadata":{"name":"n"},"status":{"conditions":[{"type":"Ready","status":"False"}]}})");
  EXPECT_EQ(FitError(pod, r, notready, 0, 0, 0, {}), "node(s) were not ready");
}

TEST(SchedulerTest, ScorePrefersEmptierAndPreferredNodes) {
  json::Value pod = Pod();
  PodRequests r = RequestsOf(pod);
  EXPECT_GT(Score(pod, r, Node(), 0, 0), Score(pod, r, Node(), 1000, int64_t{2} * 1073741824 * 1000));
  json::Value pref = Pod(R"("affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
      {"weight":50,"preference":{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}}]}},)");
  EXPECT_DOUBLE_EQ(Score(pref, r, Node(), 0, 0), Score(pod, r, Node(), 0, 0) + 50);
}

}  // namespace
}  // namespace berth::controllers::builtin
