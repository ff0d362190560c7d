// The parts of the HTTP interface that need no network library: request accessors, URL
// decoding and the default error body.

#include <string>

#include "absl/strings/numbers.h"
#include "core/http/http.h"
#include "core/strings/strings.h"

namespace berth::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view ReasonFor(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 408: return "Timeout";
    case 409: return "Conflict";
    case 413: return "RequestEntityTooLarge";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 503: return "ServiceUnavailable";
    default: return code >= 500 ? "InternalError" : "BadRequest";
  }
}

void AppendJsonString(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

template <typename Map>
void ParseQueryInto(std::string_view query, Map& out) {
  for (std::string_view part : Split(query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string key = PercentDecode(part.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true);
    if constexpr (std::is_same_v<Map, std::map<std::string, std::string>>) {
      out[key] = std::move(value);
    } else {
      out.emplace(std::move(key), std::move(value));
    }
  }
}

}  // namespace

std::string Request::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? "" : it->second;
}

std::string Request::Query(std::string_view name) const {
  auto it = query.find(std::string(name));
  return it == query.end() ? "" : it->second;
}

std::vector<std::string> Request::QueryAll(std::string_view name) const {
  std::vector<std::string> out;
  auto [begin, end] = query_all.equal_range(std::string(name));
  for (auto it = begin; it != end; ++it) out.push_back(it->second);
  return out;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

bool ValidPercentEncoding(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size()) return false;
    if (HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) return false;
    i += 2;
  }
  return true;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  ParseQueryInto(query, out);
  return out;
}

std::multimap<std::string, std::string> ParseQueryAll(std::string_view query) {
  std::multimap<std::string, std::string> out;
  ParseQueryInto(query, out);
  return out;
}

absl::Status ParseListenAddress(std::string_view address, ServerOptions& options) {
  size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(address.data() + colon + 1, address.size() - colon - 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(StrCat("listen address must be HOST:PORT, got \"", address, "\""));
  }
  options.host = std::string(address.substr(0, colon));
  options.port = port;
  return absl::OkStatus();
}

std::string StatusJson(int code, std::string_view message) {
  std::string out = R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)";
  AppendJsonString(out, message);
  StrAppend(&out, R"(,"reason":")", ReasonFor(code), R"(","code":)", code, "}");
  return out;
}

}  // namespace berth::http
