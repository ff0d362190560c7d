#include "apiserver/registry/object_meta.h"

#include <random>

#include "core/json/codec.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

void Reorder(json::Value& obj, std::initializer_list<std::string_view> first,
             std::initializer_list<std::string_view> last) {
  if (!obj.is_object()) return;
  json::Object& members = obj.as_object();
  json::Object out;
  out.reserve(members.size());
  auto take = [&](std::string_view key) {
    for (auto& m : members) {
      if (m.first == key && !m.first.empty()) {
        out.push_back(std::move(m));
        m.first.clear();
        return;
      }
    }
  };
  for (auto k : first) take(k);
  std::vector<json::Member> tail;
  for (auto k : last) {
    for (auto& m : members) {
      if (m.first == k) {
        tail.push_back(std::move(m));
        m.first.clear();
      }
    }
  }
  for (auto& m : members) {
    if (!m.first.empty()) out.push_back(std::move(m));
  }
  for (auto& m : tail) out.push_back(std::move(m));
  members = std::move(out);
}

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

void Canonicalize(json::Value& object) {
  Reorder(object, {"apiVersion", "kind", "metadata", "spec"}, {"status"});
  if (json::Value* meta = object.Find("metadata")) {
    Reorder(*meta,
            {"name", "generateName", "namespace", "uid", "resourceVersion", "generation",
             "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"},
            {});
  }
}

std::vector<api::Cause> ValidateName(std::string_view name, NameRule rule, std::string_view field) {
  std::vector<api::Cause> causes;
  const bool label_only = rule == NameRule::kLabel;
  size_t max = label_only ? 63 : 253;
  auto invalid = [&](std::string why) {
    causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", name, "\": ", why), std::string(field)});
  };
  if (name.empty()) {
    causes.push_back({"FieldValueRequired", "Required value: name or generateName is required", std::string(field)});
    return causes;
  }
  if (rule == NameRule::kPathSegment) {
    // Kubernetes' path.IsValidPathSegmentName: anything that stays one segment of a URL path.
    if (name == "." || name == "..") {
      invalid(StrCat("may not be '", name, "'"));
    } else {
      for (const char* bad : {"/", "%"}) {
        if (name.find(bad) != std::string_view::npos) invalid(StrCat("may not contain '", bad, "'"));
      }
    }
    return causes;
  }
  if (name.size() > max) {
    invalid(StrCat("must be no more than ", max, " characters"));
    return causes;
  }
  bool ok = IsAlnumLower(name.front()) && IsAlnumLower(name.back());
  for (size_t i = 0; ok && i < name.size(); ++i) {
    char c = name[i];
    if (IsAlnumLower(c) || c == '-') continue;
    if (c == '.' && !label_only && name[i - 1] != '.' && name[i - 1] != '-' &&
        i + 1 < name.size() && name[i + 1] != '-') {
      continue;
    }
    ok = false;
  }
  if (!ok) {
    invalid(label_only
                ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  }
  return causes;
}

std::vector<api::Cause> ValidateMetadata(const json::Value& object, NameRule rule) {
  std::vector<api::Cause> causes = ValidateName(object.GetString({"metadata", "name"}), rule, "metadata.name");
  if (const json::Value* labels = object.Get({"metadata", "labels"}); labels && labels->is_object()) {
    for (const auto& [k, v] : labels->as_object()) {
      std::string field = StrCat("metadata.labels");
      std::string_view name = k;
      if (auto slash = name.rfind('/'); slash != std::string_view::npos) {
        auto prefix = ValidateName(name.substr(0, slash), NameRule::kSubdomain, field);
        if (!prefix.empty()) causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", k, "\": prefix part must be a DNS-1123 subdomain"), field});
        name = name.substr(slash + 1);
      }
      bool key_ok = !name.empty() && name.size() <= 63;
      for (size_t i = 0; key_ok && i < name.size(); ++i) {
        char c = name[i];
        bool alnum = std::isalnum(static_cast<unsigned char>(c));
        key_ok = alnum || ((c == '-' || c == '_' || c == '.') && i != 0 && i + 1 != name.size());
      }
      if (!key_ok) {
        causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", k, "\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"), field});
      }
      if (!v.is_string()) continue;  // the schema reports the type
      const std::string& val = v.as_string();
      bool val_ok = val.size() <= 63;
      for (size_t i = 0; val_ok && i < val.size(); ++i) {
        char c = val[i];
        bool alnum = std::isalnum(static_cast<unsigned char>(c));
        val_ok = alnum || ((c == '-' || c == '_' || c == '.') && i != 0 && i + 1 != val.size());
      }
      if (!val_ok) {
        causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", val, "\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"), field});
      }
    }
  }
  if (const json::Value* ann = object.Get({"metadata", "annotations"}); ann && ann->is_object()) {
    size_t total = 0;
    for (const auto& [k, v] : ann->as_object()) total += k.size() + (v.is_string() ? v.as_string().size() : 0);
    if (total > 256 * 1024) {
      causes.push_back({"FieldValueTooLong", "Too long: must have at most 262144 bytes", "metadata.annotations"});
    }
  }
  return causes;
}

std::string NewUid() {
  std::uniform_int_distribution<uint64_t> dist;
  uint64_t a = dist(Rng());
  uint64_t b = dist(Rng());
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string GenerateNameSuffix() {
  // Kubernetes' alphabet: no vowels, no confusable characters.
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::uniform_int_distribution<int> dist(0, sizeof(kAlphabet) - 2);
  std::string s;
  for (int i = 0; i < 5; ++i) s.push_back(kAlphabet[dist(Rng())]);
  return s;
}

std::string StampedObject::With(uint64_t revision) const {
  std::string rv = std::to_string(revision);
  std::string out;
  out.reserve(before.size() + rv.size() + after.size());
  out.append(before).append(rv).append(after);
  return out;
}

StampedObject Stamp(json::Value& object) {
  object.Ensure({"metadata"}).Set("resourceVersion", std::string(kRevisionPlaceholder));
  Canonicalize(object);
  std::string text = json::Serialize(object);
  // The placeholder serializes with JSON escapes.
  std::string marker = json::Quote(kRevisionPlaceholder);
  marker = marker.substr(1, marker.size() - 2);
  size_t pos = text.find(marker);
  BERTH_CHECK(pos != std::string::npos);
  return {text.substr(0, pos), text.substr(pos + marker.size())};
}

}  // namespace berth::apiserver::registry
