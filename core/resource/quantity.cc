#include "core/resource/quantity.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/numeric/int128.h"
#include "core/strings/strings.h"

namespace berth::resource {
namespace {

using Int128 = absl::int128;  // exact arithmetic; __int128 is not ISO C++

absl::Status Bad(std::string_view q, std::string_view why) {
  return absl::InvalidArgumentError(StrCat("quantity \"", q, "\" ", why,
                                           " (quantities look like 100m, 1.5, 2Gi, 500M or 1e3)"));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The suffix's power of two (binary SI) or ten (decimal SI); false when unknown.
bool SuffixScale(std::string_view suffix, int& pow2, int& pow10) {
  struct Suffix {
    std::string_view s;
    int pow2, pow10;
  };
  static constexpr Suffix kSuffixes[] = {
      {"Ki", 10, 0}, {"Mi", 20, 0}, {"Gi", 30, 0}, {"Ti", 40, 0}, {"Pi", 50, 0}, {"Ei", 60, 0},
      {"n", 0, -9},  {"u", 0, -6},  {"m", 0, -3},  {"", 0, 0},    {"k", 0, 3},   {"M", 0, 6},
      {"G", 0, 9},   {"T", 0, 12},  {"P", 0, 15},  {"E", 0, 18}};
  for (const Suffix& s : kSuffixes) {
    if (suffix == s.s) {
      pow2 = s.pow2;
      pow10 = s.pow10;
      return true;
    }
  }
  return false;
}

}  // namespace

// Kubernetes' grammar (k8s.io/apimachinery/pkg/api/resource):
//   quantity ::= [sign] number suffix;  number ::= digits | digits.digits | digits. | .digits
//   suffix   ::= Ki|Mi|Gi|Ti|Pi|Ei | n|u|m|""|k|M|G|T|P|E | (e|E) [sign] digits
// The value is computed exactly in 128-bit integers and rounded up to a milli-unit, as
// Kubernetes rounds up to the smallest scale it keeps.
absl::StatusOr<int64_t> ParseMilli(std::string_view q) {
  if (q.empty()) return Bad(q, "is empty");
  if (q.size() > 64) return Bad(q.substr(0, 64), "is too long");
  size_t i = 0;
  bool negative = false;
  if (q[0] == '+' || q[0] == '-') {
    negative = q[0] == '-';
    ++i;
  }
  Int128 mantissa = 0;
  int digits = 0, fraction_digits = 0;
  bool seen_point = false, any_digit = false;
  for (; i < q.size(); ++i) {
    char c = q[i];
    if (c == '.') {
      if (seen_point) return Bad(q, "has more than one decimal point");
      seen_point = true;
      continue;
    }
    if (!IsDigit(c)) break;
    any_digit = true;
    if (mantissa == 0 && c == '0') {
      if (seen_point) ++fraction_digits;
      continue;  // leading zeros carry no precision
    }
    if (++digits > 30) return Bad(q, "has more than 30 significant digits");
    mantissa = mantissa * 10 + (c - '0');
    if (seen_point) ++fraction_digits;
  }
  if (!any_digit) return Bad(q, "has no number");
  std::string_view suffix = q.substr(i);
  int pow2 = 0, pow10 = 0;
  if (!SuffixScale(suffix, pow2, pow10)) {
    if (suffix[0] != 'e' && suffix[0] != 'E') return Bad(q, StrCat("has an unknown suffix \"", suffix, "\""));
    std::string_view exp = suffix.substr(1);
    bool exp_negative = false;
    if (!exp.empty() && (exp[0] == '+' || exp[0] == '-')) {
      exp_negative = exp[0] == '-';
      exp.remove_prefix(1);
    }
    if (exp.empty() || exp.size() > 4) return Bad(q, "has a bad exponent");
    for (char c : exp) {
      if (!IsDigit(c)) return Bad(q, "has a bad exponent");
      pow10 = pow10 * 10 + (c - '0');
    }
    if (exp_negative) pow10 = -pow10;
  }
  if (mantissa == 0) return int64_t{0};
  // milli = mantissa * 2^pow2 * 10^(pow10 - fraction_digits + 3), rounded up.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int scale10 = pow10 - fraction_digits + 3;
  Int128 value = mantissa;
  for (int k = 0; k < pow2; ++k) {
    value *= 2;
    if (value > kMax) return Bad(q, "is too large");
  }
  for (int k = 0; k < scale10; ++k) {
    value *= 10;
    if (value > kMax) return Bad(q, "is too large");
  }
  if (scale10 < 0) {
    Int128 divisor = 1;
    for (int k = 0; k < -scale10; ++k) {
      divisor *= 10;
      if (divisor > value) {
        // Smaller than a milli-unit: rounds up to 1m (or 0 for a negative value).
        return negative ? int64_t{0} : int64_t{1};
      }
    }
    Int128 quotient = value / divisor;
    bool remainder = value % divisor != 0;
    if (remainder && !negative) ++quotient;
    value = quotient;
  }
  return static_cast<int64_t>(negative ? -value : value);
}

absl::StatusOr<int64_t> MilliOfValue(const json::Value& quantity) {
  if (quantity.is_int()) {
    int64_t v = quantity.as_int();
    if (v > std::numeric_limits<int64_t>::max() / 1000 || v < std::numeric_limits<int64_t>::min() / 1000) {
      return absl::InvalidArgumentError(StrCat("quantity ", v, " is too large"));
    }
    return v * 1000;
  }
  if (quantity.is_double()) {
    double d = quantity.as_double() * 1000;
    if (!std::isfinite(d) || std::fabs(d) > 9.2e18) {
      return absl::InvalidArgumentError("quantity is too large");
    }
    return static_cast<int64_t>(std::ceil(d));
  }
  if (quantity.is_string()) return ParseMilli(quantity.as_string());
  return absl::InvalidArgumentError("a quantity must be a string or a number");
}

int64_t MilliOf(const json::Value* quantity) {
  if (quantity == nullptr) return 0;
  auto v = MilliOfValue(*quantity);
  return v.ok() ? *v : 0;
}

}  // namespace berth::resource
