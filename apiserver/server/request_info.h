#pragma once
// File: apiserver/server/request_info.h
// Splits a URL path into what it addresses (Kubernetes' RequestInfoResolver).

#include <string>
#include <vector>

namespace berth::apiserver::server {

struct RequestInfo {
  bool is_resource = false;  // false: discovery, health, version, openapi, ...
  std::string group;         // "" for /api
  std::string version;
  std::string ns;
  std::string plural;
  std::string name;
  std::string subresource;
};

// `segments` are the decoded path segments. Non-resource paths come back with is_resource false.
RequestInfo ResolveRequest(const std::vector<std::string>& segments);

}  // namespace berth::apiserver::server
