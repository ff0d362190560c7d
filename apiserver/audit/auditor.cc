#include "apiserver/audit/auditor.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "absl/random/random.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::audit {
namespace {

// RFC 3339 with microseconds, as audit's MicroTime. gmtime_r and one snprintf: absl::FormatTime
// costs microseconds, paid twice on every audited request.
std::string MicroTime(absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);
  time_t seconds = static_cast<time_t>(micros / 1000000);
  int64_t fraction = micros % 1000000;
  if (fraction < 0) {
    fraction += 1000000;
    --seconds;
  }
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char out[96];  // room for any int the compiler can imagine
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(fraction));
  return out;
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

// Written out field by field rather than through a json::Value tree: every request of an audited
// apiserver pays for this line (the Metadata level needs no parsing at all).
std::string Auditor::EventLine(const AuditRecord& r, Level level) {
  std::string out;
  out.reserve(512);
  auto field = [&out](std::string_view name, std::string_view value) {
    StrAppend(&out, ",\"", name, "\":", json::Quote(value));
  };
  StrAppend(&out, R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":")", LevelName(level), "\"");
  field("auditID", r.audit_id);
  field("stage", r.stage);
  field("requestURI", r.request_uri);
  field("verb", r.attributes.verb);
  out += ",\"user\":{";
  if (r.attributes.user != nullptr) {
    StrAppend(&out, "\"username\":", json::Quote(r.attributes.user->name));
    if (!r.attributes.user->uid.empty()) field("uid", r.attributes.user->uid);
    out += ",\"groups\":[";
    for (size_t i = 0; i < r.attributes.user->groups.size(); ++i) {
      StrAppend(&out, i ? "," : "", json::Quote(r.attributes.user->groups[i]));
    }
    out += "]";
  }
  out += "}";
  if (!r.source_ip.empty()) StrAppend(&out, ",\"sourceIPs\":[", json::Quote(r.source_ip), "]");
  if (!r.user_agent.empty()) field("userAgent", r.user_agent);
  if (r.attributes.resource_request) {
    StrAppend(&out, ",\"objectRef\":{\"resource\":", json::Quote(r.attributes.resource));
    if (!r.attributes.ns.empty()) field("namespace", r.attributes.ns);
    if (!r.attributes.name.empty()) field("name", r.attributes.name);
    if (!r.attributes.api_group.empty()) field("apiGroup", r.attributes.api_group);
    if (!r.api_version.empty()) field("apiVersion", r.api_version);
    if (!r.attributes.subresource.empty()) field("subresource", r.attributes.subresource);
    out += "}";
  }
  StrAppend(&out, R"(,"responseStatus":{"metadata":{},"code":)", r.code, "}");
  auto embed = [&out](const char* name, const std::string* body) {
    // Only JSON objects, re-serialized so a body can never break the line.
    if (body == nullptr || body->empty() || (*body)[0] != '{') return;
    auto parsed = json::Parse(*body);
    if (parsed.ok() && parsed->is_object()) StrAppend(&out, ",\"", name, "\":", json::Serialize(*parsed));
  };
  if (level >= Level::kRequest) embed("requestObject", r.request_body);
  if (level >= Level::kRequestResponse) embed("responseObject", r.response_body);
  field("requestReceivedTimestamp", MicroTime(r.received));
  field("stageTimestamp", MicroTime(r.answered));
  out += "}";
  return out;
}

void Auditor::Record(const AuditRecord& record) const {
  Decision d = Evaluate(policy_, record.attributes);
  if (d.level == Level::kNone) return;
  if (std::find(d.omit_stages.begin(), d.omit_stages.end(), record.stage) != d.omit_stages.end()) return;
  file_->Append(EventLine(record, d.level));
}

}  // namespace berth::apiserver::audit
