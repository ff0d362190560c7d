#include "core/yaml/yaml_codec.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/parser.h"
#include "yaml-cpp/yaml.h"
#include "core/json/utf8.h"
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

// Builds json::Values straight from parser events. This replaces YAML::LoadAll, which loops
// forever allocating memory on some malformed input (yaml-cpp issue 1040, fixed upstream after
// the 0.7 that Debian ships): here every document must make progress, and the total number of
// values is bounded so aliases cannot expand without limit.
class ValueBuilder final : public YAML::EventHandler {
 public:
  ValueBuilder(int max_depth, size_t max_values) : max_depth_(max_depth), max_values_(max_values) {}

  struct Failure {
    std::string message;
  };

  void OnDocumentStart(const YAML::Mark&) override {
    stack_.clear();
    root_ = json::Value();
    saw_content_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    last_null_pos_ = mark.pos;
    Put(json::Value(), anchor);
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw Failure{"YAML alias refers to an unknown anchor"};
    Count(Size(it->second));
    Put(it->second, 0);
  }
  void OnScalar(const YAML::Mark&, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    saw_content_ = true;
    // "!" marks quoted scalars; explicit !!str too: both stay strings.
    bool is_string = tag == "!" || tag == "tag:yaml.org,2002:str";
    Put(is_string ? json::Value(value) : ResolvePlain(value), anchor);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(json::Value::MakeArray(), anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(json::Value::MakeObject(), anchor);
  }
  void OnMapEnd() override { Close(); }

  bool saw_content() const { return saw_content_; }
  size_t last_null_pos() const { return last_null_pos_; }
  json::Value TakeRoot() { return std::move(root_); }

 private:
  struct Frame {
    json::Value value;
    YAML::anchor_t anchor;
    std::optional<std::string> key;  // maps: the key waiting for its value
  };

  static size_t Size(const json::Value& v) {
    size_t n = 1;
    if (v.is_array()) for (const auto& e : v.as_array()) n += Size(e);
    if (v.is_object()) for (const auto& [k, e] : v.as_object()) n += Size(e);
    return n;
  }
  void Count(size_t n) {
    values_ += n;
    if (values_ > max_values_) throw Failure{StrCat("YAML document expands to more than ", max_values_, " values")};
  }
  void Open(json::Value container, YAML::anchor_t anchor) {
    saw_content_ = true;
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      throw Failure{StrCat("YAML nesting is deeper than the limit of ", max_depth_)};
    }
    Count(1);
    stack_.push_back({std::move(container), anchor, std::nullopt});
  }
  void Close() {
    Frame done = std::move(stack_.back());
    stack_.pop_back();
    if (done.key.has_value()) throw Failure{"YAML mapping key without a value"};
    if (done.value.is_object()) json::RemoveDuplicateKeys(done.value.as_object());
    Put(std::move(done.value), done.anchor, /*counted=*/true);
  }
  void Put(json::Value v, YAML::anchor_t anchor, bool counted = false) {
    if (!counted && !v.is_array() && !v.is_object()) Count(1);
    if (anchor != 0) anchors_[anchor] = v;
    if (stack_.empty()) {
      root_ = std::move(v);
      return;
    }
    Frame& top = stack_.back();
    if (top.value.is_array()) {
      top.value.as_array().push_back(std::move(v));
    } else if (!top.key.has_value()) {
      if (v.is_null()) {
        top.key = "null";
      } else if (v.is_string()) {
        top.key = v.as_string();
      } else if (v.is_bool()) {
        top.key = v.as_bool() ? "true" : "false";
      } else if (v.is_int()) {
        top.key = StrCat(v.as_int());
      } else if (v.is_double()) {
        top.key = StrCat(v.as_double());
      } else {
        throw Failure{"YAML mapping keys must be scalars"};
      }
    } else {
      // Duplicates are resolved when the mapping closes, in linear time.
      top.value.as_object().emplace_back(std::move(*top.key), std::move(v));
      top.key.reset();
    }
  }

  const int max_depth_;
  const size_t max_values_;
  size_t values_ = 0;
  std::vector<Frame> stack_;
  json::Value root_;
  bool saw_content_ = false;
  size_t last_null_pos_ = 0;
  std::map<YAML::anchor_t, json::Value> anchors_;
};

}  // namespace

absl::StatusOr<std::vector<json::Value>> ParseDocuments(std::string_view text, int max_depth) {
  constexpr size_t kMaxValues = 1 << 20;
  constexpr size_t kMaxDocuments = 10000;
  std::vector<json::Value> out;
  if (size_t at = json::FirstInvalidUtf8Offset(text); at != std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("YAML body is not valid UTF-8 (invalid byte sequence at offset ", at,
                                             "): save the file as UTF-8"));
  }
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    ValueBuilder builder(max_depth, kMaxValues);
    constexpr size_t kNone = static_cast<size_t>(-1);
    size_t previous_empty_at = kNone;
    for (size_t docs = 0; parser.HandleNextDocument(builder); ++docs) {
      if (docs >= kMaxDocuments) return absl::InvalidArgumentError("too many YAML documents");
      if (!builder.saw_content()) {
        // An empty document that did not move the parser forward is the yaml-cpp loop.
        if (previous_empty_at == builder.last_null_pos()) {
          return absl::InvalidArgumentError("invalid YAML: the parser made no progress (stray flow indicator?)");
        }
        previous_empty_at = builder.last_null_pos();
        continue;
      }
      previous_empty_at = kNone;
      json::Value root = builder.TakeRoot();
      if (!root.is_null()) out.push_back(std::move(root));
    }
  } catch (const ValueBuilder::Failure& f) {
    return absl::InvalidArgumentError(f.message);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat("invalid YAML: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat("invalid YAML: ", e.what()));
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
