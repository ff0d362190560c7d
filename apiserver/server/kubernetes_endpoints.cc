#include "apiserver/server/kubernetes_endpoints.h"

#include "core/json/codec.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

constexpr char kName[] = "kubernetes";
constexpr char kNamespace[] = "default";

json::Value Port(int port) {
  json::Value p = json::Value::MakeObject();
  p.Set("name", "https");
  p.Set("port", port);
  p.Set("protocol", "TCP");
  return p;
}

// Creates `want` or, when stored, replaces the fields `want` sets (metadata aside).
absl::Status Ensure(registry::Registry& registry, const registry::ResourceType& type, json::Value want) {
  auto stored = registry.Get(type, kNamespace, kName);
  if (!stored.ok()) {
    if (stored.status().code() != absl::StatusCode::kNotFound) return stored.status();
    auto made = registry.Create(type, kNamespace, std::move(want), {});
    return made.ok() || made.status().code() == absl::StatusCode::kAlreadyExists ? absl::OkStatus() : made.status();
  }
  BERTH_ASSIGN_OR_RETURN(json::Value current, json::ParseStored(*stored));
  json::Value next = current;
  for (const auto& [key, value] : want.as_object()) {
    if (key == "metadata") {
      for (const auto& [mk, mv] : value.as_object()) next["metadata"].Set(mk, mv);
    } else {
      next.Set(key, value);
    }
  }
  if (next == current) return absl::OkStatus();
  auto updated = registry.Update(type, kNamespace, kName, std::move(next), registry::Subresource::kNone, {});
  return updated.ok() ? absl::OkStatus() : updated.status();
}

}  // namespace

absl::Status PublishApiServerEndpoints(registry::Registry& registry, const std::string& address, int port) {
  const registry::ResourceType* slices = registry.catalog().Find("discovery.k8s.io", "v1", "endpointslices");
  if (slices == nullptr) return absl::InternalError("endpointslices are not served");
  json::Value slice = json::Value::MakeObject();
  slice.Set("apiVersion", "discovery.k8s.io/v1");
  slice.Set("kind", "EndpointSlice");
  json::Value& meta = slice.Ensure({"metadata"});
  meta.Set("name", kName);
  json::Value labels = json::Value::MakeObject();
  labels.Set("kubernetes.io/service-name", kName);
  meta.Set("labels", std::move(labels));
  slice.Set("addressType", "IPv4");
  json::Value endpoint = json::Value::MakeObject();
  endpoint.Set("addresses", json::Value(json::Array{json::Value(address)}));
  endpoint.Ensure({"conditions"}).Set("ready", true);
  slice.Set("endpoints", json::Value(json::Array{std::move(endpoint)}));
  slice.Set("ports", json::Value(json::Array{Port(port)}));
  return Ensure(registry, *slices, std::move(slice));
}

}  // namespace berth::apiserver::server
