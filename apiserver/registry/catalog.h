#pragma once
// File: apiserver/registry/catalog.h
// The set of served resources: built-in kinds now, custom resources later. Discovery, OpenAPI
// and routing all read it.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/registry/resource_type.h"

namespace berth::apiserver::registry {

class Catalog {
 public:
  static Catalog Builtin();

  void Add(ResourceType type);
  // By URL parts: group ("" for core), version, plural.
  const ResourceType* Find(std::string_view group, std::string_view version,
                           std::string_view plural) const;
  const ResourceType* FindKind(std::string_view group, std::string_view kind) const;
  const std::vector<std::shared_ptr<const ResourceType>>& types() const { return types_; }
  // Group names in discovery order ("" first), each with its versions.
  std::vector<std::pair<std::string, std::vector<std::string>>> Groups() const;

 private:
  std::vector<std::shared_ptr<const ResourceType>> types_;
  std::map<std::string, const ResourceType*> by_path_;  // "group/version/plural"
};

}  // namespace berth::apiserver::registry
