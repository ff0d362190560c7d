#include "apiserver/server/table/jsonpath.h"
#include "apiserver/server/table/printers.h"
#include "apiserver/server/table/table.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"

namespace berth::apiserver::server::table {
namespace {

json::Value J(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return *v;
}

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
std::string Ago(int64_t seconds) { return FormatRfc3339(kNow - absl::Seconds(seconds)); }

TEST(JsonPathTest, FieldsIndexesQuotedKeysAndFilters) {
  json::Value o = J(R"({"spec":{"replicas":3,"items":[{"n":"a"},{"n":"b"}]},
      "metadata":{"labels":{"app.kubernetes.io/name":"web"}},
      "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"Synced","status":"True"}]}})");
  auto one = [&](std::string_view path) -> std::string {
    auto r = EvalJsonPath(path, o);
    if (!r.ok()) return "error: " + std::string(r.status().message());
    if (r->empty()) return "<none>";
    return json::Serialize(*r->front());
  };
  EXPECT_EQ(one(".spec.replicas"), "3");
  EXPECT_EQ(one("{.spec.items[1].n}"), "\"b\"");
  EXPECT_EQ(one(".spec.items[-1].n"), "\"b\"");
  EXPECT_EQ(one(".metadata.labels['app.kubernetes.io/name']"), "\"web\"");
  EXPECT_EQ(one(R"(.status.conditions[?(@.type=="Synced")].status)"), "\"True\"");
  EXPECT_EQ(one(".spec.missing"), "<none>");
  EXPECT_EQ(one(".spec.items[9]"), "<none>");
  EXPECT_EQ(EvalJsonPath(".spec.items[*].n", o)->size(), 2u);
  EXPECT_FALSE(EvalJsonPath(".spec.items[", o).ok());
  EXPECT_FALSE(EvalJsonPath("spec", o).ok());
}

registry::ResourceType Core(std::string plural, std::string group = "") {
  registry::ResourceType t;
  t.plural = std::move(plural);
  t.group = std::move(group);
  t.version = "v1";
  return t;
}

TEST(PrintersTest, PodStatusReadyRestartsAndWideColumns) {
  json::Value pod = J(R"({"metadata":{"name":"web-1","creationTimestamp":")" + Ago(200) + R"("},
      "spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}]},
      "status":{"phase":"Running","podIP":"10.0.0.5","containerStatuses":[
        {"name":"a","ready":true,"restartCount":2,"state":{"running":{}},
         "lastState":{"terminated":{"exitCode":1,"finishedAt":")" + Ago(30) + R"("}}},
        {"name":"b","ready":false,"restartCount":1,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})");
  Printer p = PrinterFor(Core("pods"));
  json::Array cells = p.cells(pod, kNow);
  ASSERT_EQ(cells.size(), p.columns.size());
  EXPECT_EQ(cells[0].as_string(), "web-1");
  EXPECT_EQ(cells[1].as_string(), "1/2");
  EXPECT_EQ(cells[2].as_string(), "CrashLoopBackOff");
  EXPECT_EQ(cells[3].as_string(), "3 (30s ago)");
  EXPECT_EQ(cells[4].as_string(), "3m20s");
  EXPECT_EQ(cells[5].as_string(), "10.0.0.5");
  EXPECT_EQ(p.columns[5].priority, 1);

  json::Value init = J(R"({"metadata":{"name":"i"},"spec":{"initContainers":[{"name":"x"},{"name":"y"}],"containers":[{"name":"a"}]},
      "status":{"phase":"Pending","initContainerStatuses":[{"name":"x","state":{"terminated":{"exitCode":0}}},
                                                          {"name":"y","state":{"running":{}}}]}})");
  EXPECT_EQ(p.cells(init, kNow)[2].as_string(), "Init:1/2");
  json::Value deleted = J(R"({"metadata":{"name":"d","deletionTimestamp":"2024-01-01T00:00:00Z"},"spec":{"containers":[]},"status":{"phase":"Running"}})");
  EXPECT_EQ(p.cells(deleted, kNow)[2].as_string(), "Terminating");
}

TEST(PrintersTest, NodeDeploymentAndCustomColumns) {
  json::Value node = J(R"({"metadata":{"name":"n1","labels":{"node-role.kubernetes.io/control-plane":""}},
      "spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"Unknown"}],"nodeInfo":{"kubeletVersion":"v1.32.4"}}})");
  json::Array cells = PrinterFor(Core("nodes")).cells(node, kNow);
  EXPECT_EQ(cells[1].as_string(), "NotReady,SchedulingDisabled");
  EXPECT_EQ(cells[2].as_string(), "control-plane");
  EXPECT_EQ(cells[4].as_string(), "v1.32.4");

  json::Value deploy = J(R"({"metadata":{"name":"web"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
      "template":{"spec":{"containers":[{"name":"c","image":"host"}]}}},"status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}})");
  registry::ResourceType deployments = Core("deployments", "apps");
  cells = PrinterFor(deployments).cells(deploy, kNow);
  EXPECT_EQ(json::Serialize(json::Value(cells)).substr(0, 28), R"(["web","2/3",3,2,"<unknown>")");
  EXPECT_EQ(cells[5].as_string(), "c");
  EXPECT_EQ(cells[7].as_string(), "app=web");

  registry::ResourceType crs = Core("widgets", "example.com");
  crs.custom = true;
  crs.printer_columns = J(R"([{"name":"Size","type":"integer","jsonPath":".spec.size"},
      {"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"},
      {"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"},
      {"name":"Color","type":"string","jsonPath":".spec.color","priority":1}])");
  Printer custom = PrinterFor(crs);
  ASSERT_EQ(custom.columns.size(), 5u);
  EXPECT_EQ(custom.columns[4].priority, 1);
  json::Value w = J(R"({"metadata":{"name":"w","creationTimestamp":")" + Ago(3 * 86400) + R"("},"spec":{"size":4}})");
  cells = custom.cells(w, kNow);
  EXPECT_EQ(cells[1].as_int(), 4);
  EXPECT_TRUE(cells[2].is_null());
  EXPECT_EQ(cells[3].as_string(), "3d");
}

TEST(TableTest, BuildsRowsWithPartialMetadataAndRendersText) {
  registry::ResourceType cms = Core("configmaps");
  TableOptions options;
  options.format = Format::kText;
  options.namespace_column = true;
  json::Value cm = J(R"({"metadata":{"name":"settings","namespace":"prod","creationTimestamp":")" + Ago(5) + R"("},"data":{"a":"1","b":"2"}})");
  json::Value t = BuildTable(cms, {cm}, "42", "", options, kNow);
  EXPECT_EQ(t.GetString({"kind"}), "Table");
  EXPECT_EQ(t.GetString({"metadata", "resourceVersion"}), "42");
  EXPECT_EQ(t.Get({"rows"})->as_array()[0].GetString({"object", "kind"}), "PartialObjectMetadata");
  EXPECT_EQ(RenderText(t, options),
            "NAMESPACE   NAME       DATA   AGE\n"
            "prod        settings   2      5s\n");
  options.include_object = "None";
  t = BuildTable(cms, {cm}, "42", "", options, kNow);
  EXPECT_EQ(t.Get({"rows"})->as_array()[0].Find("object"), nullptr);
}

TEST(TableTest, NegotiatesFromAcceptAsKubectlSendsIt) {
  http::Request r;
  r.headers["accept"] = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
  EXPECT_EQ(NegotiateTable(r).format, Format::kTable);
  EXPECT_EQ(NegotiateTable(r).api_version, "meta.k8s.io/v1");
  r.headers["accept"] = "application/json";
  EXPECT_EQ(NegotiateTable(r).format, Format::kObject);
  r.headers["accept"] = "text/plain";
  EXPECT_EQ(NegotiateTable(r).format, Format::kText);
  r.headers["accept"] = "application/json, text/plain";
  EXPECT_EQ(NegotiateTable(r).format, Format::kObject);
}

}  // namespace
}  // namespace berth::apiserver::server::table
