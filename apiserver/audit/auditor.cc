#include "apiserver/audit/auditor.h"

#include <algorithm>
#include <chrono>

#include "absl/random/random.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::audit {
namespace {

// Writes `value` as `width` decimal digits (zero-padded) at `out`.
void PutDigits(char* out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) out[i] = static_cast<char>('0' + value % 10);
}

// RFC 3339 with microseconds, as audit's MicroTime, paid twice on every audited request. Civil
// date by std::chrono's arithmetic and digits by hand: gmtime_r takes glibc's time-zone lock
// (contended between network threads) and snprintf parses its format each time.
std::string MicroTime(absl::Time t) {
  using namespace std::chrono;
  const int64_t micros = absl::ToUnixMicros(t);
  const sys_time<microseconds> when{microseconds(micros)};
  const sys_days day = floor<days>(when);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> time{when - day};
  std::string out(27, '\0');  // 2026-12-03T06:10:00.000000Z
  PutDigits(&out[0], static_cast<int>(ymd.year()), 4);
  out[4] = '-';
  PutDigits(&out[5], static_cast<unsigned>(ymd.month()), 2);
  out[7] = '-';
  PutDigits(&out[8], static_cast<unsigned>(ymd.day()), 2);
  out[10] = 'T';
  PutDigits(&out[11], time.hours().count(), 2);
  out[13] = ':';
  PutDigits(&out[14], time.minutes().count(), 2);
  out[16] = ':';
  PutDigits(&out[17], time.seconds().count(), 2);
  out[19] = '.';
  PutDigits(&out[20], time.subseconds().count(), 6);
  out[26] = 'Z';
  return out;
}

// The `nibbles` lowest nibbles of `value` as lower-case hex at `out`.
void PutHex(char* out, uint64_t value, int nibbles) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = nibbles - 1; i >= 0; --i, value >>= 4) out[i] = kHex[value & 0xf];
}

}  // namespace

std::string NewAuditId() {
  thread_local absl::BitGen gen;
  uint64_t hi = absl::Uniform<uint64_t>(gen), lo = absl::Uniform<uint64_t>(gen);
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  std::string out(36, '-');  // 8-4-4-4-12
  PutHex(&out[0], hi >> 32, 8);
  PutHex(&out[9], hi >> 16, 4);
  PutHex(&out[14], hi, 4);
  PutHex(&out[19], lo >> 48, 4);
  PutHex(&out[24], lo, 12);
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
  if (r.annotations != nullptr && !r.annotations->empty()) {
    out += ",\"annotations\":{";
    bool first = true;
    for (const auto& [key, value] : *r.annotations) {
      StrAppend(&out, first ? "" : ",", json::Quote(key), ":", json::Quote(value));
      first = false;
    }
    out += "}";
  }
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
