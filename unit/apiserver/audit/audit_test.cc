// Audit policy matching, the default policy's promises (never a Secret's body), event lines and
// the log file's rotation.

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <fstream>

#include "apiserver/audit/auditor.h"
#include "core/json/codec.h"
#include "core/yaml/yaml_codec.h"
#include "testing/fake_clock.h"

namespace berth::apiserver::audit {
namespace {

api::UserInfo Alice() { return {"alice", "", {"dev", "system:authenticated"}, {}}; }

RequestAttributes Res(const api::UserInfo& u, const std::string& verb, const std::string& group, const std::string& resource,
                      const std::string& ns = "default", const std::string& sub = "") {
  RequestAttributes r;
  r.user = &u;
  r.verb = verb;
  r.resource_request = true;
  r.api_group = group;
  r.resource = resource;
  r.subresource = sub;
  r.ns = ns;
  return r;
}

TEST(AuditPolicyTest, FirstMatchingRuleDecidesAsUpstream) {
  auto doc = yaml::ParseSingle(R"(apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  userGroups: [system:nodes]
- level: RequestResponse
  resources: [{group: "", resources: ["pods/log", "*/status"]}]
- level: Request
  verbs: [create]
  namespaces: [prod]
- level: Metadata
  nonResourceURLs: ["/metrics*"]
  omitStages: [ResponseStarted]
)");
  ASSERT_TRUE(doc.ok());
  auto policy = ParsePolicy(*doc);
  ASSERT_TRUE(policy.ok()) << policy.status();
  api::UserInfo alice = Alice();
  api::UserInfo node{"system:node:n1", "", {"system:nodes"}, {}};
  EXPECT_EQ(Evaluate(*policy, Res(node, "get", "", "pods", "default", "log")).level, Level::kNone);
  EXPECT_EQ(Evaluate(*policy, Res(alice, "get", "", "pods", "default", "log")).level, Level::kRequestResponse);
  EXPECT_EQ(Evaluate(*policy, Res(alice, "update", "", "pods", "default", "status")).level, Level::kRequestResponse);
  // group "" is the core group only, as upstream.
  EXPECT_EQ(Evaluate(*policy, Res(alice, "update", "apps", "deployments", "default", "status")).level, Level::kNone);
  EXPECT_EQ(Evaluate(*policy, Res(alice, "create", "", "pods", "prod")).level, Level::kRequest);
  EXPECT_EQ(Evaluate(*policy, Res(alice, "create", "", "pods", "dev")).level, Level::kNone);  // no rule matches
  RequestAttributes metrics;
  metrics.user = &alice;
  metrics.verb = "get";
  metrics.path = "/metrics";
  Decision d = Evaluate(*policy, metrics);
  EXPECT_EQ(d.level, Level::kMetadata);
  EXPECT_EQ(d.omit_stages, (std::vector<std::string>{"RequestReceived", "ResponseStarted"}));
}

TEST(AuditPolicyTest, InvalidPoliciesNameTheField) {
  auto bad_level = ParsePolicy(*json::Parse(R"({"apiVersion":"audit.k8s.io/v1","kind":"Policy","rules":[{"level":"Loud"}]})"));
  EXPECT_EQ(bad_level.status().message(),
            "rules[0].level: Unsupported value: \"Loud\": supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\"");
  auto both = ParsePolicy(*json::Parse(
      R"({"apiVersion":"audit.k8s.io/v1","kind":"Policy","rules":[{"level":"None","nonResourceURLs":["/x"],"resources":[{"group":""}]}]})"));
  EXPECT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("rules[0].nonResourceURLs"), std::string::npos);
  EXPECT_FALSE(ParsePolicy(*json::Parse(R"({"apiVersion":"v1","kind":"Policy","rules":[]})")).ok());
}

TEST(AuditPolicyTest, TheDefaultNeverRecordsSecretBodiesNorHeartbeats) {
  AuditPolicy p = DefaultPolicy();
  api::UserInfo alice = Alice();
  EXPECT_EQ(Evaluate(p, Res(alice, "create", "", "secrets")).level, Level::kMetadata);
  EXPECT_EQ(Evaluate(p, Res(alice, "update", "", "configmaps")).level, Level::kMetadata);
  EXPECT_EQ(Evaluate(p, Res(alice, "create", "authentication.k8s.io", "tokenreviews", "")).level, Level::kMetadata);
  EXPECT_EQ(Evaluate(p, Res(alice, "create", "", "pods")).level, Level::kRequest);
  EXPECT_EQ(Evaluate(p, Res(alice, "list", "", "pods")).level, Level::kMetadata);
  EXPECT_EQ(Evaluate(p, Res(alice, "update", "coordination.k8s.io", "leases", "kube-node-lease")).level, Level::kNone);
  RequestAttributes health;
  health.user = &alice;
  health.verb = "get";
  health.path = "/readyz";
  EXPECT_EQ(Evaluate(p, health).level, Level::kNone);
}

TEST(AuditorTest, TimestampsAreRfc3339MicrosecondsInUtcAnnotationsJsonAndIdsUuids) {
  api::UserInfo alice = Alice();
  AuditRecord r;
  r.stage = "ResponseComplete";
  r.attributes = Res(alice, "get", "", "pods");
  // A leap day's last microsecond, and the instant before the epoch.
  r.received = absl::FromCivil(absl::CivilSecond(2024, 2, 29, 23, 59, 59), absl::UTCTimeZone()) + absl::Microseconds(999999);
  r.answered = absl::FromUnixMicros(-1);
  const std::map<std::string, std::string> annotations = {{"pod-security.kubernetes.io/enforce-policy", "baseline:latest"},
                                                          {"quoted", "a \"b\"\n"}};
  r.annotations = &annotations;
  auto line = json::Parse(Auditor::EventLine(r, Level::kMetadata));
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->GetString({"annotations", "pod-security.kubernetes.io/enforce-policy"}), "baseline:latest");
  EXPECT_EQ(line->GetString({"annotations", "quoted"}), "a \"b\"\n");
  EXPECT_EQ(line->GetString({"requestReceivedTimestamp"}), "2024-02-29T23:59:59.999999Z");
  EXPECT_EQ(line->GetString({"stageTimestamp"}), "1969-12-31T23:59:59.999999Z");
  for (int i = 0; i < 100; ++i) {
    std::string id = NewAuditId();
    ASSERT_EQ(id.size(), 36u) << id;
    for (size_t c = 0; c < id.size(); ++c) {
      if (c == 8 || c == 13 || c == 18 || c == 23) {
        EXPECT_EQ(id[c], '-') << id;
      } else {
        EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(id[c])) && !std::isupper(static_cast<unsigned char>(id[c])))
            << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;  // version 4
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 4122 variant
  }
}

TEST(AuditorTest, EventLinesCarryWhoWhatAndBodiesByLevel) {
  api::UserInfo alice = Alice();
  AuditRecord r;
  r.audit_id = NewAuditId();
  r.stage = "ResponseComplete";
  r.attributes = Res(alice, "create", "", "configmaps");
  r.api_version = "v1";
  r.request_uri = "/api/v1/namespaces/default/configmaps";
  r.source_ip = "127.0.0.1";
  r.user_agent = "kubectl/v1.32.4";
  r.code = 201;
  r.received = absl::FromUnixSeconds(1767225600);
  r.answered = r.received + absl::Milliseconds(3);
  std::string body = R"({"metadata":{"name":"c"},"data":{"k":"v"}})";
  r.request_body = &body;
  auto metadata = json::Parse(Auditor::EventLine(r, Level::kMetadata));
  ASSERT_TRUE(metadata.ok());
  EXPECT_EQ(metadata->GetString({"apiVersion"}), "audit.k8s.io/v1");
  EXPECT_EQ(metadata->GetString({"auditID"}), r.audit_id);
  EXPECT_EQ(metadata->GetString({"user", "username"}), "alice");
  EXPECT_EQ(metadata->GetString({"objectRef", "resource"}), "configmaps");
  EXPECT_EQ(metadata->GetString({"objectRef", "namespace"}), "default");
  EXPECT_EQ(metadata->GetString({"requestReceivedTimestamp"}), "2026-01-01T00:00:00.000000Z");
  EXPECT_EQ(metadata->GetString({"stageTimestamp"}), "2026-01-01T00:00:00.003000Z");
  EXPECT_EQ(metadata->Get({"responseStatus", "code"})->as_int(), 201);
  EXPECT_EQ(metadata->Find("requestObject"), nullptr);
  auto request = json::Parse(Auditor::EventLine(r, Level::kRequest));
  EXPECT_EQ(request->GetString({"requestObject", "data", "k"}), "v");
  EXPECT_EQ(r.audit_id.size(), 36u);
  EXPECT_EQ(r.audit_id[14], '4');
  EXPECT_NE(NewAuditId(), r.audit_id);
}

TEST(AuditFileTest, RotatesBySizeAndKeepsTheNewestBackups) {
  auto dir = std::filesystem::temp_directory_path() / ("berth-audit-" + NewAuditId());
  std::filesystem::create_directories(dir);
  testing::FakeClock clock;
  {
    auto file = AuditFile::Open({(dir / "audit.log").string(), 1, 0, 2}, clock);
    ASSERT_TRUE(file.ok()) << file.status();
    const std::string big(600 * 1024, 'x');
    for (int i = 0; i < 5; ++i) {
      (*file)->Append(big);
      clock.Advance(absl::Seconds(1));
    }
  }
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
    EXPECT_EQ(std::filesystem::status(e.path()).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  std::sort(names.begin(), names.end());
  // Five 600 KiB lines in 1 MiB files: four rotations, two backups kept (the newest).
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], "audit-2026-01-01T00-00-03.000.log");
  EXPECT_EQ(names[1], "audit-2026-01-01T00-00-04.000.log");
  EXPECT_EQ(names[2], "audit.log");
  std::filesystem::remove_all(dir);
}

TEST(AuditFileTest, BatchModeWritesEveryLineByFlushOrClose) {
  auto dir = std::filesystem::temp_directory_path() / ("berth-audit-" + NewAuditId());
  std::filesystem::create_directories(dir);
  testing::FakeClock clock;
  const std::string path = (dir / "audit.log").string();
  auto count_lines = [&path] {
    std::ifstream in(path);
    return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
  };
  {
    AuditFileOptions options{path, 100, 0, 0, /*batch=*/true};
    auto file = AuditFile::Open(options, clock);
    ASSERT_TRUE(file.ok()) << file.status();
    for (int i = 0; i < 1000; ++i) (*file)->Append(R"({"n":)" + std::to_string(i) + "}");
    (*file)->Flush();
    EXPECT_EQ(count_lines(), 1000);
    for (int i = 0; i < 10; ++i) (*file)->Append("{}");
  }  // closing writes what is queued
  EXPECT_EQ(count_lines(), 1010);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::apiserver::audit
