#include "core/json/utf8.h"

#include <cstdint>
#include <vector>

namespace berth::json {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid (RFC 3629, table 3-7 of
// the Unicode standard).
size_t ValidSequenceAt(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

size_t FirstInvalidUtf8Offset(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = ValidSequenceAt(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

bool IsValidUtf8(std::string_view s) { return FirstInvalidUtf8Offset(s) == std::string_view::npos; }

std::string ReplaceInvalidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_invalid = false;
  for (size_t i = 0; i < s.size();) {
    size_t n = ValidSequenceAt(s, i);
    if (n == 0) {
      if (!in_invalid) out.append("\xEF\xBF\xBD");
      in_invalid = true;
      ++i;
      continue;
    }
    in_invalid = false;
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::optional<std::string> FindInvalidUtf8(const Value& root) {
  // Iterative, so a deeply nested value cannot exhaust the stack.
  struct Item {
    const Value* v;
    std::string path;
  };
  std::vector<Item> stack{{&root, ""}};
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    const Value& v = *item.v;
    if (v.is_string()) {
      if (!IsValidUtf8(v.as_string())) return item.path;
    } else if (v.is_array()) {
      const Array& a = v.as_array();
      for (size_t i = a.size(); i-- > 0;) {
        stack.push_back({&a[i], item.path + "[" + std::to_string(i) + "]"});
      }
    } else if (v.is_object()) {
      const Object& o = v.as_object();
      for (size_t i = o.size(); i-- > 0;) {
        std::string path = item.path.empty() ? o[i].first : item.path + "." + o[i].first;
        if (!IsValidUtf8(o[i].first)) return ReplaceInvalidUtf8(path);
        stack.push_back({&o[i].second, std::move(path)});
      }
    }
  }
  return std::nullopt;
}

}  // namespace berth::json
