#include "core/image/reference.h"

#include <vector>

#include "core/strings/strings.h"

namespace berth::image {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

absl::Status Invalid(std::string_view reference, std::string_view why) {
  return absl::InvalidArgumentError(StrCat("invalid image reference \"", reference, "\": ", why));
}

// path-component: [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
bool IsPathComponent(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (size_t i = 0; i < s.size();) {
    if (IsLowerAlnum(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !IsLowerAlnum(s[j])) ++j;
    std::string_view sep = s.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

// domain: components of [a-zA-Z0-9] and inner '-', joined by '.', optional :port.
bool IsDomain(std::string_view s) {
  size_t colon = s.rfind(':');
  std::string_view host = s.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = s.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
  }
  if (host.empty()) return false;
  for (std::string_view part : Split(host, '.')) {
    if (part.empty() || !IsAlnum(part.front()) || !IsAlnum(part.back())) return false;
    for (char c : part) {
      if (!IsAlnum(c) && c != '-') return false;
    }
  }
  return true;
}

bool IsTag(std::string_view s) {
  if (s.empty() || s.size() > kMaxTagLength) return false;
  auto word = [](char c) { return IsAlnum(c) || c == '_'; };
  if (!word(s.front())) return false;
  for (char c : s) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

// algorithm ":" hex, the algorithm of letters and digits with + . _ - separators.
bool IsDigest(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view algorithm = s.substr(0, colon), hex = s.substr(colon + 1);
  if (!((algorithm[0] >= 'a' && algorithm[0] <= 'z') || (algorithm[0] >= 'A' && algorithm[0] <= 'Z'))) return false;
  for (char c : algorithm) {
    if (!IsAlnum(c) && c != '+' && c != '.' && c != '_' && c != '-') return false;
  }
  if (hex.size() < 32) return false;
  for (char c : hex) {
    if (!IsHex(c)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<Reference> ParseReference(std::string_view reference) {
  if (reference.empty()) return Invalid(reference, "it is empty");
  Reference out;
  std::string_view rest = reference;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    out.digest = std::string(rest.substr(at + 1));
    if (!IsDigest(out.digest)) return Invalid(reference, "the digest must be algorithm:hex (e.g. sha256:<64 hex digits>)");
    rest = rest.substr(0, at);
  }
  // A tag is after the last ':' that comes after the last '/' (a ':' before it is a port).
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    out.tag = std::string(rest.substr(colon + 1));
    if (!IsTag(out.tag)) return Invalid(reference, "a tag is at most 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'");
    rest = rest.substr(0, colon);
  }
  if (rest.size() > kMaxNameLength) return Invalid(reference, "the repository name is longer than 255 characters");
  std::vector<std::string_view> parts = Split(rest, '/');
  // The first part is a registry when it looks like a host: a '.', a port, or localhost.
  if (parts.size() > 1 && (parts[0].find_first_of(".:") != std::string_view::npos || parts[0] == "localhost")) {
    if (!IsDomain(parts[0])) return Invalid(reference, StrCat("\"", parts[0], "\" is not a registry host[:port]"));
    out.domain = std::string(parts[0]);
    parts.erase(parts.begin());
  }
  for (std::string_view p : parts) {
    if (!IsPathComponent(p)) {
      bool upper = false;
      for (char c : p) upper = upper || (c >= 'A' && c <= 'Z');
      return Invalid(reference, upper ? "repository name must be lowercase"
                                      : StrCat("\"", p, "\" is not a repository path component ([a-z0-9] with . _ __ - between)"));
    }
    if (!out.path.empty()) out.path += "/";
    out.path += p;
  }
  return out;
}

}  // namespace berth::image
