#pragma once
// File: apiserver/schema/validator.h
// Validates objects against the OpenAPI v3 subset that schemas/ uses: type, properties,
// required, items, enum, pattern, minimum/maximum, minLength/maxLength, minItems/maxItems,
// additionalProperties (bool or schema), nullable, format (int32, int64, date-time, byte),
// x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields, x-berth-format (quantity,
// resource-quantity, int-or-percent: grammars Kubernetes checks in Go code), and "$ref" to
// "#/definitions/<Name>" in the shared definitions. CustomResourceDefinitions reuse it.
//
// Thread-safe after construction.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/api/errors.h"
#include "core/json/value.h"

namespace berth::apiserver::schema {

struct ValidationResult {
  std::vector<api::Cause> causes;        // invalid values: 422
  std::vector<std::string> unknown_fields;  // dotted paths of fields no schema declares
  bool ok() const { return causes.empty(); }
};

struct ValidateOptions {
  // Integers must be JSON integers within int64 (what Go's typed clients decode), not 1e3 or
  // 1.0. Built-in kinds; CustomResourceDefinitions follow OpenAPI, where 1.0 is an integer.
  bool strict_integers = true;
};

class SchemaSet {
 public:
  // `documents`: file name -> JSON text. A document whose top level has "definitions" adds to
  // the shared definitions; one with "x-berth-gvk" {group, version, kind} is a kind's schema.
  static absl::StatusOr<std::shared_ptr<const SchemaSet>> Load(
      const std::map<std::string, std::string>& documents);

  // nullptr when the kind has no schema.
  const json::Value* ForKind(std::string_view group, std::string_view version,
                             std::string_view kind) const;
  const json::Value& definitions() const { return definitions_; }

  // Validates `object` against `schema`; `$ref`s resolve in this set's definitions.
  ValidationResult Validate(const json::Value& schema, const json::Value& object,
                            const ValidateOptions& options = {}) const;

  // Every kind's schema by "group/version/Kind", for publishing OpenAPI documents.
  std::map<std::string, const json::Value*> kinds() const;

 private:
  json::Value definitions_ = json::Value::MakeObject();
  std::map<std::string, json::Value> kinds_;  // "group/version/Kind"
};

}  // namespace berth::apiserver::schema
