#include "apiserver/server/request_info.h"

namespace berth::apiserver::server {

RequestInfo ResolveRequest(const std::vector<std::string>& s) {
  RequestInfo info;
  size_t i = 0;
  if (s.size() >= 2 && s[0] == "api") {
    info.version = s[1];
    i = 2;
  } else if (s.size() >= 3 && s[0] == "apis") {
    info.group = s[1];
    info.version = s[2];
    i = 3;
  } else {
    return info;
  }
  if (i >= s.size()) return info;  // /api/v1 or /apis/g/v: discovery
  info.is_resource = true;
  // /namespaces/{ns}/{plural}... but /namespaces/{name}[/status|finalize] is the Namespace itself.
  bool namespace_subresource = s[i] == "namespaces" && i + 3 == s.size() &&
                               (s[i + 2] == "status" || s[i + 2] == "finalize");
  if (s[i] == "namespaces" && i + 2 < s.size() && !namespace_subresource) {
    info.ns = s[i + 1];
    i += 2;
  }
  info.plural = s[i++];
  if (i < s.size()) info.name = s[i++];
  if (i < s.size()) info.subresource = s[i++];
  if (i < s.size()) info.is_resource = false;  // deeper paths are not ours
  return info;
}

}  // namespace berth::apiserver::server
