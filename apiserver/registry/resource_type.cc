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

}  // namespace berth::apiserver::registry
