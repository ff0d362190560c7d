#include "core/selector/label_selector.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/strings/strings.h"

namespace berth::selector {
namespace {

bool ValidKeyChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '/';
}

absl::Status CheckKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("label selector: empty key");
  if (key.size() > 317) return absl::InvalidArgumentError("label selector: key too long");
  for (char c : key) {
    if (!ValidKeyChar(c)) {
      return absl::InvalidArgumentError(
          StrCat("label selector: invalid character in key \"", key, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckValue(std::string_view v) {
  if (v.size() > 63) return absl::InvalidArgumentError("label selector: value longer than 63");
  for (char c : v) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return absl::InvalidArgumentError(
          StrCat("label selector: invalid character in value \"", v, "\""));
    }
  }
  return absl::OkStatus();
}

// Splits on commas that are outside parentheses.
absl::StatusOr<std::vector<std::string_view>> SplitTopLevel(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') {
      if (++depth > 1) return absl::InvalidArgumentError("label selector: nested parentheses");
    } else if (text[i] == ')') {
      if (--depth < 0) return absl::InvalidArgumentError("label selector: unbalanced ')'");
    } else if (text[i] == ',' && depth == 0) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) return absl::InvalidArgumentError("label selector: unbalanced '('");
  parts.push_back(text.substr(start));
  return parts;
}

absl::StatusOr<Requirement> ParseRequirement(std::string_view raw) {
  std::string_view s = Strip(raw);
  Requirement r;
  if (s.empty()) return absl::InvalidArgumentError("label selector: empty requirement");
  if (s[0] == '!') {
    r.key = std::string(Strip(s.substr(1)));
    r.op = Requirement::Op::kDoesNotExist;
    if (auto st = CheckKey(r.key); !st.ok()) return st;
    return r;
  }
  // Set-based: "key in (a,b)" / "key notin (a,b)".
  size_t paren = s.find('(');
  if (paren != std::string_view::npos) {
    std::string_view head = Strip(s.substr(0, paren));
    if (s.back() != ')') return absl::InvalidArgumentError("label selector: expected ')'");
    std::string_view list = s.substr(paren + 1, s.size() - paren - 2);
    size_t sp = head.find_last_of(" \t");
    if (sp == std::string_view::npos) {
      return absl::InvalidArgumentError(
          StrCat("label selector: expected 'in' or 'notin' in \"", s, "\""));
    }
    std::string_view op = head.substr(sp + 1);
    r.key = std::string(Strip(head.substr(0, sp)));
    if (op == "in") {
      r.op = Requirement::Op::kIn;
    } else if (op == "notin") {
      r.op = Requirement::Op::kNotIn;
    } else {
      return absl::InvalidArgumentError(
          StrCat("label selector: unknown operator \"", op, "\""));
    }
    if (auto st = CheckKey(r.key); !st.ok()) return st;
    for (std::string_view v : Split(list, ',')) {
      std::string value(Strip(v));
      if (auto st = CheckValue(value); !st.ok()) return st;
      r.values.push_back(std::move(value));
    }
    return r;
  }
  size_t pos;
  size_t len;
  if ((pos = s.find("!=")) != std::string_view::npos) {
    r.op = Requirement::Op::kNotEquals;
    len = 2;
  } else if ((pos = s.find("==")) != std::string_view::npos) {
    r.op = Requirement::Op::kEquals;
    len = 2;
  } else if ((pos = s.find('=')) != std::string_view::npos) {
    r.op = Requirement::Op::kEquals;
    len = 1;
  } else {
    r.key = std::string(s);
    r.op = Requirement::Op::kExists;
    if (auto st = CheckKey(r.key); !st.ok()) return st;
    return r;
  }
  r.key = std::string(Strip(s.substr(0, pos)));
  std::string value(Strip(s.substr(pos + len)));
  if (auto st = CheckKey(r.key); !st.ok()) return st;
  if (auto st = CheckValue(value); !st.ok()) return st;
  r.values.push_back(std::move(value));
  return r;
}

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector sel;
  if (Strip(text).empty()) return sel;
  auto parts = SplitTopLevel(text);
  if (!parts.ok()) return parts.status();
  for (std::string_view p : *parts) {
    auto r = ParseRequirement(p);
    if (!r.ok()) return r.status();
    sel.requirements_.push_back(*std::move(r));
  }
  return sel;
}

absl::StatusOr<LabelSelector> LabelSelector::FromObject(const json::Value& selector) {
  LabelSelector sel;
  if (const json::Value* ml = selector.Find("matchLabels"); ml != nullptr && ml->is_object()) {
    for (const auto& [k, v] : ml->as_object()) {
      if (!v.is_string()) return absl::InvalidArgumentError("matchLabels values must be strings");
      sel.requirements_.push_back({k, Requirement::Op::kEquals, {v.as_string()}});
    }
  }
  if (const json::Value* me = selector.Find("matchExpressions"); me != nullptr && me->is_array()) {
    for (const json::Value& e : me->as_array()) {
      Requirement r;
      r.key = e.GetString({"key"});
      std::string op = e.GetString({"operator"});
      if (op == "In") r.op = Requirement::Op::kIn;
      else if (op == "NotIn") r.op = Requirement::Op::kNotIn;
      else if (op == "Exists") r.op = Requirement::Op::kExists;
      else if (op == "DoesNotExist") r.op = Requirement::Op::kDoesNotExist;
      else return absl::InvalidArgumentError(StrCat("unknown selector operator \"", op, "\""));
      if (const json::Value* vals = e.Find("values"); vals != nullptr && vals->is_array()) {
        for (const json::Value& v : vals->as_array()) {
          if (v.is_string()) r.values.push_back(v.as_string());
        }
      }
      sel.requirements_.push_back(std::move(r));
    }
  }
  return sel;
}

bool LabelSelector::Matches(const json::Value& labels) const {
  for (const Requirement& r : requirements_) {
    const json::Value* v = labels.Find(r.key);
    bool has = v != nullptr && v->is_string();
    const std::string empty;
    const std::string& value = has ? v->as_string() : empty;
    auto in_values = [&] {
      return std::find(r.values.begin(), r.values.end(), value) != r.values.end();
    };
    switch (r.op) {
      case Requirement::Op::kEquals:
      case Requirement::Op::kIn:
        if (!has || !in_values()) return false;
        break;
      case Requirement::Op::kNotEquals:
      case Requirement::Op::kNotIn:
        if (has && in_values()) return false;
        break;
      case Requirement::Op::kExists:
        if (!has) return false;
        break;
      case Requirement::Op::kDoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

std::string LabelSelector::ToString() const {
  std::vector<std::string> parts;
  for (const Requirement& r : requirements_) {
    switch (r.op) {
      case Requirement::Op::kEquals: parts.push_back(StrCat(r.key, "=", r.values[0])); break;
      case Requirement::Op::kNotEquals: parts.push_back(StrCat(r.key, "!=", r.values[0])); break;
      case Requirement::Op::kIn:
        parts.push_back(StrCat(r.key, " in (", absl::StrJoin(r.values, ","), ")"));
        break;
      case Requirement::Op::kNotIn:
        parts.push_back(StrCat(r.key, " notin (", absl::StrJoin(r.values, ","), ")"));
        break;
      case Requirement::Op::kExists: parts.push_back(r.key); break;
      case Requirement::Op::kDoesNotExist: parts.push_back(StrCat("!", r.key)); break;
    }
  }
  return absl::StrJoin(parts, ",");
}

}  // namespace berth::selector
