#pragma once
// File: apiserver/registry/kinds/field_support.h
// The one table of fields that Berth stores but does not act on (answered with a `Warning: 299`
// header naming the field, which kubectl prints) or cannot run correctly (refused with 422), and
// of what each served kind honours. Admission reads it on every create and update, and
// docs/compatibility.md is generated from it (`berth-apiserver --print-compatibility`), so the
// document and the server cannot disagree.

#include <string>
#include <string_view>
#include <vector>

#include "core/api/errors.h"
#include "core/json/value.h"

namespace berth::apiserver::registry::kinds {

enum class Support {
  kWarn,    // stored, not acted on: a Warning names the field
  kRefuse,  // acting as if it were absent would run the workload wrong: 422
};

struct FieldRule {
  // A kind ("Job"), or "PodSpec" for every pod spec: a Pod's spec and each workload's template.
  std::string_view scope;
  // Dotted path below the scope; "[]" steps into each element of an array.
  std::string_view path;
  // Empty: the rule applies when the field is set to anything but a zero value (null, false,
  // 0, "", [] or {}). Otherwise the field's string or boolean value that triggers it.
  std::string_view when;
  Support support;
  std::string_view why;
};

const std::vector<FieldRule>& FieldRules();

// Warnings ("spec.containers[0].lifecycle: lifecycle hooks ... are not run") for `object` of
// `kind`, and the causes of a refusal.
std::vector<std::string> UnhonouredFieldWarnings(std::string_view kind, const json::Value& object);
std::vector<api::Cause> UnsupportedFieldCauses(std::string_view kind, const json::Value& object);
// Both in one walk (admission): appends to `warnings` and `causes`.
void CheckFieldSupport(std::string_view kind, const json::Value& object, std::vector<std::string>& warnings,
                       std::vector<api::Cause>& causes);

// docs/compatibility.md: served kinds (`kinds`: "group/version Kind" lines), what each
// honours, and every rule above.
std::string CompatibilityMarkdown(const std::vector<std::string>& kinds);
// The same for the built-in catalog: the whole of docs/compatibility.md.
std::string CompatibilityDocument();

}  // namespace berth::apiserver::registry::kinds
