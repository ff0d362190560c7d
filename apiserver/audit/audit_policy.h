#pragma once
// File: apiserver/audit/audit_policy.h
// Kubernetes' audit Policy (audit.k8s.io/v1): an ordered list of rules, the first that matches a
// request decides its level (None, Metadata, Request, RequestResponse) and the stages not to
// record; a request no rule matches is not audited. Matching as upstream's policy checker:
// users, userGroups, verbs, namespaces, resources (group, resource or resource/subresource with
// `*` forms, resourceNames) for resource requests, nonResourceURLs (exact or `prefix*`) for the
// others; a rule naming neither matches both.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/api/user_info.h"
#include "core/json/value.h"

namespace berth::apiserver::audit {

enum class Level { kNone, kMetadata, kRequest, kRequestResponse };
const char* LevelName(Level level);

struct GroupResources {
  std::string group;
  std::vector<std::string> resources, resource_names;
};

struct PolicyRule {
  Level level = Level::kNone;
  std::vector<std::string> users, user_groups, verbs, namespaces, non_resource_urls, omit_stages;
  std::vector<GroupResources> resources;
};

struct AuditPolicy {
  std::vector<PolicyRule> rules;
  std::vector<std::string> omit_stages;
};

// What the policy looks at in a request.
struct RequestAttributes {
  const api::UserInfo* user = nullptr;
  std::string verb;
  bool resource_request = false;
  std::string api_group, resource, subresource, ns, name;  // resource requests
  std::string path;                                        // non-resource requests
};

struct Decision {
  Level level = Level::kNone;
  std::vector<std::string> omit_stages;  // the policy's and the rule's
};

// From a Policy document (JSON or YAML); InvalidArgument naming the field at fault.
absl::StatusOr<AuditPolicy> ParsePolicy(const json::Value& document);
absl::StatusOr<AuditPolicy> LoadPolicyFile(const std::string& path);

// What `berth up` audits without a policy file: never a Secret's, ConfigMap's or token's body
// (Metadata), the bodies of other writes (Request), metadata of reads; not health checks, nor
// lease renewals (heartbeats and leader election every few seconds).
AuditPolicy DefaultPolicy();

Decision Evaluate(const AuditPolicy& policy, const RequestAttributes& request);

}  // namespace berth::apiserver::audit
