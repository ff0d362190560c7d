#pragma once
// File: apiserver/registry/resource_type.h
// What the REST layer needs to know about one served resource, and the per-kind behaviour
// (Kubernetes "strategies"): defaulting, status handling on create, extra validation.

#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "apiserver/registry/object_meta.h"
#include "core/api/errors.h"
#include "core/json/value.h"

namespace berth::apiserver::registry {

// Per-kind hooks. The defaults do nothing; kinds override what they need.
class Strategy {
 public:
  virtual ~Strategy() = default;
  // Fills defaults on create and update, as the Kubernetes defaulting functions do.
  virtual void Default(json::Value& /*object*/) const {}
  // Runs on create after defaulting: reset or initialise status.
  virtual void PrepareForCreate(json::Value& object) const;
  // Checks beyond the schema (cross-field rules). Paths as in the schema causes.
  virtual std::vector<api::Cause> Validate(const json::Value& /*object*/) const { return {}; }
  // Immutable fields and other update rules.
  virtual std::vector<api::Cause> ValidateUpdate(const json::Value& /*object*/,
                                                 const json::Value& /*old*/) const {
    return {};
  }
  // The rule the name must follow: DNS subdomain (most kinds), DNS label (namespaces) or any
  // path segment (RBAC kinds: "system:node").
  virtual NameRule Naming() const { return NameRule::kSubdomain; }
  // Warning headers for a create or update that is accepted but not fully honoured.
  virtual std::vector<std::string> Warnings(const json::Value& /*object*/) const { return {}; }

  // Deletion (Kubernetes' RESTGracefulDeleteStrategy and BeforeDelete). Seconds the object
  // stays with a deletionTimestamp before it may be removed, given what the client asked for;
  // 0 removes it at once (finalizers aside).
  virtual int64_t GracefulDeletionSeconds(const json::Value& /*object*/,
                                          std::optional<int64_t> /*requested*/) const {
    return 0;
  }
  // Whether the object must wait beyond its metadata.finalizers (namespaces: spec.finalizers).
  virtual bool DeletionPending(const json::Value& /*object*/) const { return false; }
  // Marks an object whose deletion begins (namespaces: status.phase Terminating).
  virtual void PrepareForDeletion(json::Value& /*object*/) const {}
};

// A subresource as discovery lists it and routing accepts it (pods/status, pods/log, ...).
struct SubresourceInfo {
  std::string name;                   // "status"
  std::string group, version, kind;   // of what it answers (Scale is autoscaling/v1)
  std::vector<std::string> verbs;     // "get", "create", "update", "patch"
};

struct ResourceType {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string kind;     // "Pod"
  std::string plural;   // "pods"
  std::string singular; // "pod"
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool has_status = false;  // a /status subresource; main writes then ignore .status
  bool has_scale = false;   // a /scale subresource over spec.replicas / status.replicas
  bool return_deleted_object = false;  // DELETE answers the object instead of a Status
  // Nothing stored: a POST is answered with a computed status (access reviews, whoami).
  bool review = false;
  // Fields a fieldSelector may name besides metadata.name and metadata.namespace.
  std::vector<std::string> selectable_fields;
  std::shared_ptr<const Strategy> strategy;
  // Subresources beyond /status and /scale (pods: binding, log; namespaces: finalize).
  std::vector<SubresourceInfo> extra_subresources;

  // Custom resources (from a CustomResourceDefinition): their own schema, defaulting and
  // pruning of unknown fields, and where the /scale subresource finds its numbers.
  bool custom = false;
  std::shared_ptr<const json::Value> schema;  // openAPIV3Schema
  std::string scale_spec_path = "spec.replicas";
  std::string scale_status_path = "status.replicas";
  std::string scale_selector_path;  // e.g. status.selector (a string selector)
  json::Value printer_columns;      // additionalPrinterColumns, for Table output

  // Every subresource served: /status and /scale from the flags above, then the extras. The
  // one list that discovery, OpenAPI and routing all read.
  std::vector<SubresourceInfo> Subresources() const;
  // The subresource `name`, or nullopt when this resource has none such.
  std::optional<SubresourceInfo> FindSubresource(std::string_view name) const;

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  std::string ListKind() const { return kind + "List"; }
  // Prefix of every key of this resource: /registry/<group|core>/<plural>/
  std::string KeyPrefix() const;
  std::string Key(const std::string& ns, const std::string& name) const;
  std::string ListPrefix(const std::string& ns) const;
  api::Target Target(const std::string& name) const { return {group, plural, name, kind}; }
};

}  // namespace berth::apiserver::registry
