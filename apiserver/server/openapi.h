#pragma once
// File: apiserver/server/openapi.h
// OpenAPI documents published from schemas/: /openapi/v3 (root and one document per group
// version, with the PATCH operations and fieldValidation parameter that make kubectl validate
// on the server) and /openapi/v2.

#include <string>

#include "apiserver/registry/catalog.h"
#include "apiserver/schema/validator.h"
#include "core/json/value.h"

namespace berth::apiserver::server {

inline constexpr char kOpenApiV2ProtoContentType[] =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

// Component name of a kind's schema: io.k8s.api.apps.v1.Deployment.
std::string ComponentName(const std::string& group, const std::string& version, const std::string& kind);

json::Value OpenApiV3Root(const registry::Catalog& catalog);
// `gv_path` is "api/v1" or "apis/apps/v1"; null when unknown.
json::Value OpenApiV3Document(const registry::Catalog& catalog, const schema::SchemaSet& schemas,
                              const std::string& gv_path);
json::Value OpenApiV2Document(const registry::Catalog& catalog, const schema::SchemaSet& schemas);

}  // namespace berth::apiserver::server
