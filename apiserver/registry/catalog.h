#pragma once
// File: apiserver/registry/catalog.h
// The set of served resources: the built-in kinds plus the custom resources of established
// CustomResourceDefinitions. Discovery, OpenAPI and routing all read it.
//
// Thread-safe. A ResourceType, once added, stays valid for the life of the catalog (a removed
// one is only unlisted), so callers may keep the pointers Find returns.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/registry/resource_type.h"

namespace berth::apiserver::registry {

class Catalog {
 public:
  static std::unique_ptr<Catalog> Builtin();

  // Adds or replaces (same group/version/plural) a served resource.
  const ResourceType* Add(ResourceType type);
  void Remove(std::string_view group, std::string_view version, std::string_view plural);
  // By URL parts: group ("" for core), version, plural.
  const ResourceType* Find(std::string_view group, std::string_view version,
                           std::string_view plural) const;
  const ResourceType* FindKind(std::string_view group, std::string_view kind) const;
  // A snapshot of what is served now.
  std::vector<std::shared_ptr<const ResourceType>> types() const;
  // Group names in discovery order ("" first), each with its versions.
  std::vector<std::pair<std::string, std::vector<std::string>>> Groups() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const ResourceType>> types_;
  std::map<std::string, const ResourceType*> by_path_;  // "group/version/plural"
  std::vector<std::shared_ptr<const ResourceType>> retired_;  // removed or replaced: kept alive
};

}  // namespace berth::apiserver::registry
