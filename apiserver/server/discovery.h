#pragma once
// File: apiserver/server/discovery.h
// Discovery documents built from the catalog: legacy (/api, /apis, /api/v1, /apis/{g},
// /apis/{g}/{v}) and aggregated (apidiscovery.k8s.io/v2, asked for through Accept).

#include <string>

#include "apiserver/registry/catalog.h"
#include "core/json/value.h"

namespace berth::apiserver::server {

inline constexpr char kAggregatedContentType[] =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

bool WantsAggregated(const std::string& accept);

json::Value ApiVersions(const std::string& server_address);                 // GET /api
json::Value ApiGroupList(const registry::Catalog& catalog);                 // GET /apis
json::Value ApiGroup(const registry::Catalog& catalog, const std::string& group);  // null if unknown
json::Value ApiResourceList(const registry::Catalog& catalog, const std::string& group,
                            const std::string& version);                    // null if unknown
json::Value AggregatedDiscovery(const registry::Catalog& catalog, bool core);

}  // namespace berth::apiserver::server
