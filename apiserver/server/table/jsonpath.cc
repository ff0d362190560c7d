#include "apiserver/server/table/jsonpath.h"

#include <string>

#include "absl/strings/numbers.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server::table {
namespace {

std::string Unquote(std::string_view s) {
  s = Strip(s);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
  return std::string(s);
}

// `@.a.b=="x"` (also !=): true when the element's value at the path equals the literal.
bool MatchesFilter(std::string_view filter, const json::Value& element) {
  bool negate = false;
  size_t op = filter.find("==");
  if (op == std::string_view::npos) {
    op = filter.find("!=");
    negate = true;
  }
  std::string_view lhs = Strip(op == std::string_view::npos ? filter : filter.substr(0, op));
  if (lhs.substr(0, 1) != "@") return false;
  auto found = EvalJsonPath(lhs.substr(1), element);
  if (!found.ok()) return false;
  if (op == std::string_view::npos) return !found->empty();  // existence test: [?(@.x)]
  std::string want = Unquote(filter.substr(op + 2));
  bool equal = false;
  for (const json::Value* v : *found) {
    if (v->is_string()) equal = equal || v->as_string() == want;
    else if (v->is_int()) equal = equal || StrCat(v->as_int()) == want;
    else if (v->is_bool()) equal = equal || (v->as_bool() ? "true" : "false") == want;
  }
  return negate ? !equal : equal;
}

}  // namespace

absl::StatusOr<std::vector<const json::Value*>> EvalJsonPath(std::string_view path, const json::Value& root) {
  path = Strip(path);
  if (path.size() >= 2 && path.front() == '{' && path.back() == '}') path = Strip(path.substr(1, path.size() - 2));
  if (!path.empty() && path.front() == '$') path.remove_prefix(1);
  std::vector<const json::Value*> current = {&root};
  size_t i = 0;
  while (i < path.size()) {
    std::vector<const json::Value*> next;
    if (path[i] == '.') {
      size_t end = i + 1;
      while (end < path.size() && path[end] != '.' && path[end] != '[') ++end;
      std::string_view field = path.substr(i + 1, end - i - 1);
      if (field.empty()) return absl::InvalidArgumentError(StrCat("empty field name in JSONPath \"", path, "\""));
      for (const json::Value* v : current) {
        if (field == "*" && v->is_object()) {
          for (const auto& [k, child] : v->as_object()) next.push_back(&child);
        } else if (const json::Value* child = v->is_object() ? v->Find(field) : nullptr) {
          next.push_back(child);
        }
      }
      i = end;
    } else if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (path.compare(i, 3, "[?(") == 0) close = path.find(")]", i) + 1;
      if (close == std::string_view::npos || close == 0) {
        return absl::InvalidArgumentError(StrCat("unclosed [ in JSONPath \"", path, "\""));
      }
      std::string_view inside = path.substr(i + 1, close - i - 1);
      for (const json::Value* v : current) {
        if (inside.substr(0, 2) == "?(") {
          if (!v->is_array()) continue;
          std::string_view filter = inside.substr(2, inside.size() - 3);
          for (const json::Value& e : v->as_array()) {
            if (MatchesFilter(filter, e)) next.push_back(&e);
          }
        } else if (inside == "*") {
          if (v->is_array()) {
            for (const json::Value& e : v->as_array()) next.push_back(&e);
          } else if (v->is_object()) {
            for (const auto& [k, child] : v->as_object()) next.push_back(&child);
          }
        } else if (!inside.empty() && (inside.front() == '\'' || inside.front() == '"')) {
          if (const json::Value* child = v->is_object() ? v->Find(Unquote(inside)) : nullptr) next.push_back(child);
        } else {
          int64_t index = 0;
          if (!absl::SimpleAtoi(absl::string_view(inside.data(), inside.size()), &index)) {
            return absl::InvalidArgumentError(StrCat("unsupported subscript [", inside, "] in JSONPath \"", path, "\""));
          }
          if (!v->is_array()) continue;
          int64_t n = static_cast<int64_t>(v->as_array().size());
          if (index < 0) index += n;
          if (index >= 0 && index < n) next.push_back(&v->as_array()[static_cast<size_t>(index)]);
        }
      }
      i = close + 1;
    } else {
      return absl::InvalidArgumentError(StrCat("JSONPath must start with '.' or '[' at \"", path.substr(i), "\""));
    }
    current = std::move(next);
  }
  return current;
}

}  // namespace berth::apiserver::server::table
