#pragma once
// File: apiserver/registry/object_meta.h
// ObjectMeta rules shared by every kind: name formats, server-set fields, the canonical member
// order that stored objects follow, and the resourceVersion stamp.

#include <string>
#include <string_view>
#include <vector>

#include "core/api/errors.h"
#include "core/json/value.h"

namespace berth::apiserver::registry {

// The rule a kind's names follow: DNS subdomain (most kinds), DNS label (namespaces) or any
// single path segment (RBAC kinds: "system:node").
enum class NameRule { kSubdomain, kLabel, kPathSegment };

// The placeholder the registry writes as metadata.resourceVersion before the store assigns
// the revision. Canonical order puts it before any user-controlled string, so the first
// occurrence in the serialized object is always ours.
inline constexpr std::string_view kRevisionPlaceholder = "\x01rv\x01";

// Orders members as Kubernetes prints them: apiVersion, kind, metadata (name, generateName,
// namespace, uid, resourceVersion, ... then labels, annotations), spec, others, status.
void Canonicalize(json::Value& object);

std::vector<api::Cause> ValidateName(std::string_view name, NameRule rule, std::string_view field);
std::vector<api::Cause> ValidateMetadata(const json::Value& object, NameRule rule);

std::string NewUid();
std::string GenerateNameSuffix();

// Splits the serialized object around the placeholder so the encoder only concatenates.
struct StampedObject {
  std::string before;
  std::string after;
  std::string With(uint64_t revision) const;
};
// Leaves `object` canonicalized with the placeholder as its resourceVersion.
StampedObject Stamp(json::Value& object);

}  // namespace berth::apiserver::registry
