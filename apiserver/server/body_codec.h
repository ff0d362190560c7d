#pragma once
// File: apiserver/server/body_codec.h
// Request bodies by Content-Type: JSON and YAML objects; the four patch types. Anything else is
// 415 with the accepted types named; malformed bodies are 400 naming the problem.

#include "absl/status/statusor.h"
#include "core/http/http.h"
#include "apiserver/registry/registry.h"
#include "core/json/value.h"

namespace berth::apiserver::server {

// Media type without parameters, lower-cased: "application/json".
std::string MediaType(const std::string& content_type);

absl::StatusOr<json::Value> DecodeObject(const http::Request& request);

struct DecodedPatch {
  registry::PatchType type;
  json::Value patch;
};
absl::StatusOr<DecodedPatch> DecodePatch(const http::Request& request,
                                         const registry::ResourceType& type);

}  // namespace berth::apiserver::server
