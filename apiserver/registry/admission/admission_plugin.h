#pragma once
// File: apiserver/registry/admission/admission_plugin.h
// Admission that needs more than the object itself (Kubernetes' admission plugins): it may read
// other stored objects through the registry. The registry runs every plugin on each create and
// update of a main resource (never on subresources such as status or binding): Mutate after
// defaulting and before validation, Validate after the kind's own validation passed, and
// ValidateDelete before a delete. An error is returned to the client as it is (403 Forbidden
// for policy, as upstream does) and nothing is stored.

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/api/user_info.h"
#include "core/json/value.h"

namespace berth::apiserver::registry {

class Registry;
struct ResourceType;

enum class AdmissionOperation { kCreate, kUpdate };

struct AdmissionAttributes {
  AdmissionOperation operation;
  const ResourceType& type;
  const json::Value* old;   // the stored object on update, else null
  const Registry& registry; // to read other objects (reads only)
  bool dry_run = false;     // nothing may be written on the request's behalf
  const api::UserInfo* user = nullptr;  // the requester; null for the server's own writes
  std::vector<std::string>* warnings = nullptr;  // Warning headers for the client
  // Annotations for the request's audit event (upstream's audit.AddAuditAnnotation); null when
  // nothing is audited.
  std::map<std::string, std::string>* audit_annotations = nullptr;
};

class AdmissionPlugin {
 public:
  virtual ~AdmissionPlugin() = default;
  virtual absl::Status Mutate(const AdmissionAttributes& /*attrs*/, json::Value& /*object*/) const {
    return absl::OkStatus();
  }
  virtual absl::Status Validate(const AdmissionAttributes& /*attrs*/, const json::Value& /*object*/) const {
    return absl::OkStatus();
  }
  virtual absl::Status ValidateDelete(const ResourceType& /*type*/, const json::Value& /*object*/) const {
    return absl::OkStatus();
  }
};

}  // namespace berth::apiserver::registry
