#include "apiserver/audit/auditor.h"

#include <algorithm>
#include <cstdio>

#include "absl/random/random.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::audit {
namespace {

std::string MicroTime(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone()); }

// A body is embedded only when it is a JSON object (protobuf and YAML bodies are not decoded here).
bool EmbedJson(json::Value& event, const char* field, const std::string* body) {
  if (body == nullptr || body->empty() || (*body)[0] != '{') return false;
  auto parsed = json::Parse(*body);
  if (!parsed.ok() || !parsed->is_object()) return false;
  event.Set(field, *std::move(parsed));
  return true;
}

}  // namespace

std::string NewAuditId() {
  thread_local absl::BitGen gen;
  uint64_t hi = absl::Uniform<uint64_t>(gen), lo = absl::Uniform<uint64_t>(gen);
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return out;
}

std::string Auditor::EventLine(const AuditRecord& r, Level level) {
  json::Value e = json::Value::MakeObject();
  e.Set("kind", "Event");
  e.Set("apiVersion", "audit.k8s.io/v1");
  e.Set("level", LevelName(level));
  e.Set("auditID", r.audit_id);
  e.Set("stage", r.stage);
  e.Set("requestURI", r.request_uri);
  e.Set("verb", r.attributes.verb);
  json::Value& user = e.Ensure({"user"});
  if (r.attributes.user != nullptr) {
    user.Set("username", r.attributes.user->name);
    if (!r.attributes.user->uid.empty()) user.Set("uid", r.attributes.user->uid);
    json::Value groups = json::Value::MakeArray();
    for (const std::string& g : r.attributes.user->groups) groups.as_array().push_back(json::Value(g));
    user.Set("groups", std::move(groups));
  }
  if (!r.source_ip.empty()) {
    json::Value ips = json::Value::MakeArray();
    ips.as_array().push_back(json::Value(r.source_ip));
    e.Set("sourceIPs", std::move(ips));
  }
  if (!r.user_agent.empty()) e.Set("userAgent", r.user_agent);
  if (r.attributes.resource_request) {
    json::Value& ref = e.Ensure({"objectRef"});
    ref.Set("resource", r.attributes.resource);
    if (!r.attributes.ns.empty()) ref.Set("namespace", r.attributes.ns);
    if (!r.attributes.name.empty()) ref.Set("name", r.attributes.name);
    if (!r.attributes.api_group.empty()) ref.Set("apiGroup", r.attributes.api_group);
    if (!r.api_version.empty()) ref.Set("apiVersion", r.api_version);
    if (!r.attributes.subresource.empty()) ref.Set("subresource", r.attributes.subresource);
  }
  json::Value& status = e.Ensure({"responseStatus"});
  status.Set("metadata", json::Value::MakeObject());
  status.Set("code", static_cast<int64_t>(r.code));
  if (level >= Level::kRequest) EmbedJson(e, "requestObject", r.request_body);
  if (level >= Level::kRequestResponse) EmbedJson(e, "responseObject", r.response_body);
  e.Set("requestReceivedTimestamp", MicroTime(r.received));
  e.Set("stageTimestamp", MicroTime(r.answered));
  return json::Serialize(e);
}

void Auditor::Record(const AuditRecord& record) const {
  Decision d = Evaluate(policy_, record.attributes);
  if (d.level == Level::kNone) return;
  if (std::find(d.omit_stages.begin(), d.omit_stages.end(), record.stage) != d.omit_stages.end()) return;
  file_->Append(EventLine(record, d.level));
}

}  // namespace berth::apiserver::audit
