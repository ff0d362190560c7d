#include "core/yaml/yaml_codec.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "yaml-cpp/yaml.h"
#include "core/strings/strings.h"

namespace berth::yaml {
namespace {

// Plain (unquoted, untagged) scalar resolution, YAML 1.1 as go-yaml v2 resolves it.
json::Value ResolvePlain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return json::Value();
  static constexpr std::string_view kTrue[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
                                               "true", "True", "TRUE"};
  static constexpr std::string_view kFalse[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF",
                                                "false", "False", "FALSE"};
  for (auto t : kTrue) if (s == t) return json::Value(true);
  for (auto f : kFalse) if (s == f) return json::Value(false);
  std::string digits = absl::StrReplaceAll(s, {{"_", ""}});
  int64_t i = 0;
  if (absl::SimpleAtoi(digits, &i)) {
    // Reject forms Go would read as strings, e.g. leading '+' handled by SimpleAtoi is fine.
    return json::Value(i);
  }
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    char* end = nullptr;
    long long v = std::strtoll(digits.c_str() + 2, &end, 16);
    if (end != nullptr && *end == '\0') return json::Value(static_cast<int64_t>(v));
  }
  if (digits.size() > 1 && digits[0] == '0' && digits.find_first_not_of("01234567") == std::string::npos) {
    return json::Value(static_cast<int64_t>(std::strtoll(digits.c_str(), nullptr, 8)));
  }
  std::string lower = absl::AsciiStrToLower(s);
  if (lower == ".inf" || lower == "+.inf") return json::Value(std::numeric_limits<double>::infinity());
  if (lower == "-.inf") return json::Value(-std::numeric_limits<double>::infinity());
  if (lower == ".nan") return json::Value(std::nan(""));
  // A float needs a digit and only float characters.
  if (digits.find_first_of("0123456789") != std::string::npos &&
      digits.find_first_not_of("0123456789.eE+-") == std::string::npos) {
    double d = 0;
    if (absl::SimpleAtod(digits, &d)) return json::Value(d);
  }
  return json::Value(s);
}

absl::StatusOr<json::Value> Convert(const YAML::Node& node, int depth, int max_depth) {
  if (depth > max_depth) {
    return absl::InvalidArgumentError(
        StrCat("YAML nesting is deeper than the limit of ", max_depth));
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json::Value();
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      // "!" marks quoted scalars; explicit !!str too: both stay strings.
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return json::Value(node.Scalar());
      return ResolvePlain(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      json::Value arr = json::Value::MakeArray();
      for (const YAML::Node& item : node) {
        auto v = Convert(item, depth + 1, max_depth);
        if (!v.ok()) return v.status();
        arr.as_array().push_back(*std::move(v));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      json::Value obj = json::Value::MakeObject();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return absl::InvalidArgumentError("YAML mapping keys must be scalars");
        }
        auto v = Convert(kv.second, depth + 1, max_depth);
        if (!v.ok()) return v.status();
        obj.Set(kv.first.Scalar(), *std::move(v));
      }
      return obj;
    }
  }
  return json::Value();
}

}  // namespace

absl::StatusOr<std::vector<json::Value>> ParseDocuments(std::string_view text, int max_depth) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat("invalid YAML: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat("invalid YAML: ", e.what()));
  }
  std::vector<json::Value> out;
  for (const YAML::Node& doc : docs) {
    if (!doc.IsDefined() || doc.IsNull()) continue;
    absl::StatusOr<json::Value> v;
    try {
      v = Convert(doc, 0, max_depth);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(StrCat("invalid YAML: ", e.what()));
    }
    if (!v.ok()) return v.status();
    out.push_back(*std::move(v));
  }
  return out;
}

absl::StatusOr<json::Value> ParseSingle(std::string_view text, int max_depth) {
  auto docs = ParseDocuments(text, max_depth);
  if (!docs.ok()) return docs.status();
  if (docs->size() != 1) {
    return absl::InvalidArgumentError(
        StrCat("expected one YAML document, found ", docs->size()));
  }
  return std::move((*docs)[0]);
}

}  // namespace berth::yaml
