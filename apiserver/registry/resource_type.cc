#include "apiserver/registry/resource_type.h"

namespace berth::apiserver::registry {

void Strategy::PrepareForCreate(json::Value& object) const {
  // Most kinds start without status: it belongs to controllers and agents.
  object.Erase("status");
}

std::string ResourceType::KeyPrefix() const {
  return "/registry/" + (group.empty() ? std::string("core") : group) + "/" + plural + "/";
}

std::string ResourceType::Key(const std::string& ns, const std::string& name) const {
  return namespaced ? KeyPrefix() + ns + "/" + name : KeyPrefix() + name;
}

std::string ResourceType::ListPrefix(const std::string& ns) const {
  return namespaced && !ns.empty() ? KeyPrefix() + ns + "/" : KeyPrefix();
}

std::vector<SubresourceInfo> ResourceType::Subresources() const {
  std::vector<SubresourceInfo> out;
  if (has_status) out.push_back({"status", group, version, kind, {"get", "patch", "update"}});
  if (has_scale) out.push_back({"scale", "autoscaling", "v1", "Scale", {"get", "patch", "update"}});
  out.insert(out.end(), extra_subresources.begin(), extra_subresources.end());
  return out;
}

std::optional<SubresourceInfo> ResourceType::FindSubresource(std::string_view name) const {
  for (SubresourceInfo& s : Subresources()) {
    if (s.name == name) return std::move(s);
  }
  return std::nullopt;
}

}  // namespace berth::apiserver::registry
