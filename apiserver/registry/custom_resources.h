#pragma once
// File: apiserver/registry/custom_resources.h
// CustomResourceDefinitions: the CRD kind's own rules, the served ResourceTypes a CRD
// describes, and what a structural schema does to a custom object (defaults, pruning).

#include <memory>
#include <vector>

#include "apiserver/registry/resource_type.h"
#include "core/json/value.h"

namespace berth::apiserver::registry {

inline constexpr char kCrdCleanupFinalizer[] = "customresourcecleanup.apiextensions.k8s.io";

std::shared_ptr<const Strategy> CustomResourceDefinitionStrategy();

// One ResourceType per served version of `crd`.
std::vector<ResourceType> TypesFromCrd(const json::Value& crd);

// Fills `default`s the schema declares for absent fields.
void ApplySchemaDefaults(const json::Value& schema, json::Value& object);
// Drops fields the schema does not declare (outside x-kubernetes-preserve-unknown-fields),
// keeping apiVersion, kind and metadata at the root. Returns the dotted paths dropped.
std::vector<std::string> PruneUnknownFields(const json::Value& schema, json::Value& object);

}  // namespace berth::apiserver::registry
