#include "core/resource/quantity.h"

#include <cmath>
#include <string>

#include "core/strings/strings.h"

namespace berth::resource {

absl::StatusOr<int64_t> ParseMilli(std::string_view q) {
  if (q.empty()) return absl::InvalidArgumentError("empty quantity");
  size_t i = 0;
  if (q[0] == '+' || q[0] == '-') ++i;
  while (i < q.size() && (std::isdigit(static_cast<unsigned char>(q[i])) || q[i] == '.')) ++i;
  std::string_view number = q.substr(0, i);
  std::string_view suffix = q.substr(i);
  if (number.empty() || number == "+" || number == "-") {
    return absl::InvalidArgumentError(StrCat("quantity \"", q, "\" has no number"));
  }
  double value = std::stod(std::string(number));
  double scale = 1;
  struct Suffix {
    std::string_view s;
    double m;
  };
  static constexpr Suffix kSuffixes[] = {
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0},
      {"Ei", 1152921504606846976.0}, {"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"", 1}, {"k", 1e3}, {"M", 1e6},
      {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18}};
  bool found = false;
  for (const Suffix& s : kSuffixes) {
    if (suffix == s.s) {
      scale = s.m;
      found = true;
      break;
    }
  }
  if (!found && !suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E')) {
    int exp = 0;
    try {
      exp = std::stoi(std::string(suffix.substr(1)));
    } catch (...) {
      return absl::InvalidArgumentError(StrCat("quantity \"", q, "\" has a bad exponent"));
    }
    scale = std::pow(10.0, exp);
    found = true;
  }
  if (!found) return absl::InvalidArgumentError(StrCat("quantity \"", q, "\" has an unknown suffix"));
  double milli = value * scale * 1000.0;
  if (std::fabs(milli) > 9.2e18) return absl::InvalidArgumentError(StrCat("quantity \"", q, "\" is too large"));
  // Kubernetes rounds up to the smallest representable unit.
  return static_cast<int64_t>(std::ceil(milli - 1e-9));
}

int64_t MilliOf(const json::Value* quantity) {
  if (quantity == nullptr) return 0;
  if (quantity->is_number()) return static_cast<int64_t>(std::llround(quantity->as_double() * 1000));
  if (!quantity->is_string()) return 0;
  auto v = ParseMilli(quantity->as_string());
  return v.ok() ? *v : 0;
}

}  // namespace berth::resource
