// libFuzzer target over what hostile request bodies reach: JSON and YAML decoding, schema
// validation, merge/JSON/strategic patches, selectors, kubectl's protobuf bodies. The first byte picks the path; for
// patches the rest splits at the first NUL into target and patch. Modes 8-11 are the parsers
// of single user-supplied values: quantities, int-or-percent, cron schedules, UTF-8 repair,
// image references (12).
//
// With clang: cmake -DBERTH_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ && ./build/bin/decode_fuzz
// With gcc: fuzz_smoke (fuzz_smoke_main.cc) replays the corpus and random mutations.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "apiserver/schema/validator.h"
#include "apiserver/server/protobuf/k8s_protobuf.h"
#include "core/cron/cron_schedule.h"
#include "core/image/reference.h"
#include "core/intstr/int_or_percent.h"
#include "core/json/codec.h"
#include "core/json/utf8.h"
#include "core/resource/quantity.h"
#include "core/patch/patch.h"
#include "core/patch/strategic_merge.h"
#include "core/selector/field_selector.h"
#include "core/selector/label_selector.h"
#include "core/yaml/yaml_codec.h"

namespace berth {
std::map<std::string, std::string> EmbeddedSchemas();
}

namespace {

const berth::apiserver::schema::SchemaSet& Schemas() {
  static auto* set = new std::shared_ptr<const berth::apiserver::schema::SchemaSet>(
      *berth::apiserver::schema::SchemaSet::Load(berth::EmbeddedSchemas()));
  return **set;
}

void Validate(const berth::json::Value& v) {
  const auto& s = Schemas();
  for (const auto& [name, schema] : s.kinds()) (void)s.Validate(*schema, v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0] % 13;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t nul = rest.find('\0');
  std::string_view a = rest.substr(0, nul);
  std::string_view b = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  switch (mode) {
    case 0: {
      auto v = berth::json::Parse(rest);
      if (v.ok()) {
        Validate(*v);
        auto again = berth::json::Parse(berth::json::Serialize(*v));
        if (!again.ok() || !(*again == *v)) __builtin_trap();  // round trip must hold
      }
      break;
    }
    case 1: {
      auto docs = berth::yaml::ParseDocuments(rest);
      if (docs.ok()) {
        for (const auto& d : *docs) Validate(d);
      }
      break;
    }
    case 2:
    case 3:
    case 4: {
      auto target = berth::json::Parse(a);
      auto patch = berth::json::Parse(b);
      if (!target.ok() || !patch.ok()) break;
      if (mode == 2) (void)berth::patch::MergePatch(*target, *patch);
      if (mode == 3) (void)berth::patch::JsonPatch(*target, *patch);
      if (mode == 4) (void)berth::patch::StrategicMergePatch(*target, *patch);
      break;
    }
    case 5:
      (void)berth::selector::LabelSelector::Parse(rest);
      break;
    case 6:
      (void)berth::selector::FieldSelector::Parse(rest);
      break;
    case 7: {
      // kubectl's protobuf bodies: the envelope prefix is supplied so mutations reach the fields.
      std::string body("k8s\0", 4);
      body.append(rest);
      auto v = berth::apiserver::server::DecodeKubernetesProtobuf(body);
      if (v.ok()) Validate(*v);
      break;
    }
    case 8: {
      auto milli = berth::resource::ParseMilli(rest);
      // A quantity that parses is canonical enough to parse again from its milli-units.
      if (milli.ok() && !berth::resource::ParseMilli(std::to_string(*milli) + "m").ok()) __builtin_trap();
      break;
    }
    case 9: {
      auto v = berth::json::Parse(rest);
      berth::json::Value value = v.ok() ? *v : berth::json::Value(std::string(rest));
      auto scaled = berth::intstr::ScaledValue(value, static_cast<int64_t>(size) * 1000003, size % 2 == 0);
      if (scaled.ok() && *scaled < 0) __builtin_trap();  // validated values are never negative
      break;
    }
    case 10:
      (void)berth::cron::CronSchedule::Parse(rest);
      break;
    case 12: {
      auto reference = berth::image::ParseReference(rest);
      // What parses names its parts back: the same reference parses to the same parts again.
      if (reference.ok()) {
        std::string again = reference->Name() + (reference->tag.empty() ? "" : ":" + reference->tag) +
                            (reference->digest.empty() ? "" : "@" + reference->digest);
        auto twice = berth::image::ParseReference(again);
        if (!twice.ok() || twice->Name() != reference->Name() || twice->tag != reference->tag) __builtin_trap();
      }
      break;
    }
    case 11: {
      std::string repaired = berth::json::ReplaceInvalidUtf8(rest);
      if (!berth::json::IsValidUtf8(repaired)) __builtin_trap();
      if (berth::json::IsValidUtf8(rest) && repaired != rest) __builtin_trap();
      break;
    }
  }
  return 0;
}
