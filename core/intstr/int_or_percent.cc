#include "core/intstr/int_or_percent.h"

#include <string>

#include "core/strings/strings.h"

namespace berth::intstr {
namespace {

constexpr int64_t kMaxPercent = 1000000;  // keeps p * total far from overflow

absl::StatusOr<int64_t> PercentOf(const std::string& s) {
  if (s.size() < 2 || s.back() != '%' || s.size() > 9) {
    return absl::InvalidArgumentError(
        StrCat("\"", s, "\": a valid percent string must be a numeric string followed by an ending '%'"));
  }
  int64_t p = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return absl::InvalidArgumentError(
          StrCat("\"", s, "\": a valid percent string must be a numeric string followed by an ending '%'"));
    }
    p = p * 10 + (s[i] - '0');
  }
  if (p > kMaxPercent) return absl::InvalidArgumentError(StrCat("\"", s, "\": percentage is too large"));
  return p;
}

}  // namespace

absl::Status ValidateIntOrPercent(const json::Value& value) {
  if (value.is_int()) {
    if (value.as_int() < 0) return absl::InvalidArgumentError(StrCat(value.as_int(), ": must be greater than or equal to 0"));
    if (value.as_int() > INT32_MAX) return absl::InvalidArgumentError(StrCat(value.as_int(), ": must fit in 32 bits"));
    return absl::OkStatus();
  }
  if (value.is_string()) return PercentOf(value.as_string()).status();
  return absl::InvalidArgumentError("must be an integer or a percentage string such as \"25%\"");
}

absl::StatusOr<int64_t> ScaledValue(const json::Value& value, int64_t total, bool round_up) {
  if (absl::Status s = ValidateIntOrPercent(value); !s.ok()) return s;
  if (value.is_int()) return value.as_int();
  auto p = PercentOf(value.as_string());
  if (!p.ok()) return p.status();
  if (total < 0) total = 0;
  if (total > INT64_MAX / kMaxPercent) return absl::InvalidArgumentError("total is too large");
  int64_t scaled = *p * total;
  return round_up ? (scaled + 99) / 100 : scaled / 100;
}

int64_t ScaledValueOr(const json::Value* value, int64_t total, bool round_up, int64_t fallback) {
  if (value == nullptr) return fallback;
  auto v = ScaledValue(*value, total, round_up);
  return v.ok() ? *v : fallback;
}

}  // namespace berth::intstr
