#include "apiserver/registry/kinds/configmap/data_keys.h"

#include <algorithm>
#include <map>
#include <string>

#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

constexpr size_t kMaxKeyLength = 253;

// k8s.io/apimachinery/pkg/util/validation IsConfigMapKey.
std::vector<std::string> KeyErrors(const std::string& key) {
  std::vector<std::string> errors;
  if (key.size() > kMaxKeyLength) errors.push_back(StrCat("must be no more than ", kMaxKeyLength, " characters"));
  bool chars_ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
  if (!chars_ok) {
    errors.push_back(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
        "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
  }
  if (key == ".") errors.push_back("must not be '.'");
  else if (key == "..") errors.push_back("must not be '..'");
  else if (key.rfind("..", 0) == 0) errors.push_back("must not start with '..'");
  return errors;
}

size_t DecodedBase64Size(const std::string& s) {
  size_t pad = 0;
  for (size_t i = s.size(); i > 0 && s[i - 1] == '='; --i) ++pad;
  return s.size() / 4 * 3 - std::min<size_t>(pad, 2);
}

std::string Printable(const std::string& key) {
  std::string out;
  for (char c : key.substr(0, 64)) {
    if (static_cast<unsigned char>(c) < 0x20) StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    else out.push_back(c);
  }
  return key.size() > 64 ? out + "..." : out;
}

}  // namespace

std::vector<api::Cause> ValidateDataKeys(const json::Value& object, const std::vector<const char*>& data_fields,
                                         const std::vector<const char*>& base64_fields) {
  std::vector<api::Cause> causes;
  std::map<std::string, std::string> seen;  // key -> field it was first seen in
  size_t total = 0;
  for (const char* field : data_fields) {
    const json::Value* data = object.Find(field);
    if (data == nullptr || !data->is_object()) continue;
    bool base64 = std::find_if(base64_fields.begin(), base64_fields.end(),
                               [&](const char* f) { return std::string_view(f) == field; }) != base64_fields.end();
    for (const auto& [key, value] : data->as_object()) {
      std::string path = StrCat(field, "[", Printable(key), "]");
      for (const std::string& e : KeyErrors(key)) {
        causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", Printable(key), "\": ", e), path});
      }
      auto [it, inserted] = seen.emplace(key, field);
      if (!inserted) {
        causes.push_back({"FieldValueInvalid",
                          StrCat("Invalid value: \"", Printable(key), "\": duplicate of key present in ", it->second), path});
      }
      if (value.is_string()) total += base64 ? DecodedBase64Size(value.as_string()) : value.as_string().size();
    }
  }
  if (total > kMaxDataBytes) {
    causes.push_back({"FieldValueTooLong", StrCat("Too long: may not be more than ", kMaxDataBytes, " bytes"), ""});
  }
  return causes;
}

std::vector<api::Cause> ValidateImmutableData(const json::Value& object, const json::Value& old,
                                              const std::vector<const char*>& data_fields) {
  const json::Value* was = old.Find("immutable");
  if (was == nullptr || !was->is_bool() || !was->as_bool()) return {};
  std::vector<api::Cause> causes;
  const json::Value* now = object.Find("immutable");
  if (now == nullptr || !now->is_bool() || !now->as_bool()) {
    causes.push_back({"FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", "immutable"});
  }
  for (const char* field : data_fields) {
    const json::Value* a = object.Find(field);
    const json::Value* b = old.Find(field);
    bool same = (a == nullptr || a->size() == 0) ? (b == nullptr || b->size() == 0) : (b != nullptr && *a == *b);
    if (!same) causes.push_back({"FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", field});
  }
  return causes;
}

}  // namespace berth::apiserver::registry::kinds
