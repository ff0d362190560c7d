#pragma once
// File: apiserver/auth/rbac/policy_rule.h
// One rbac.authorization.k8s.io/v1 PolicyRule and whether it covers a request, with Kubernetes'
// matching rules (pkg/apis/rbac/v1/evaluation_helpers.go): `*` for verbs, groups and resources,
// `*/sub` for a subresource of any resource, resourceNames only for requests that name an
// object, nonResourceURLs exact or ending in `*` as a prefix.

#include <string>
#include <vector>

#include "apiserver/auth/authorizer.h"
#include "core/json/value.h"

namespace berth::apiserver::auth::rbac {

struct PolicyRule {
  std::vector<std::string> verbs, api_groups, resources, resource_names, non_resource_urls;
};

PolicyRule ParsePolicyRule(const json::Value& rule);
std::vector<PolicyRule> ParsePolicyRules(const json::Value* rules);
json::Value PolicyRuleToJson(const PolicyRule& rule);

bool RuleAllows(const PolicyRule& rule, const Attributes& attributes);

// Kubernetes' compact rendering, used in escalation messages:
//   {APIGroups:[""], Resources:["secrets"], Verbs:["get"]}
std::string DescribeRule(const PolicyRule& rule);

}  // namespace berth::apiserver::auth::rbac

namespace berth::apiserver::auth::rbac {

// The parts of `wanted` that `held` does not cover, as Kubernetes' ConfirmNoEscalation finds
// them: `wanted` broken into single verb/group/resource/name (or verb/URL) rules, each checked
// against `held`, the uncovered ones merged back by group and resource (verbs joined) and
// sorted by their printed form.
std::vector<PolicyRule> Uncovered(const std::vector<PolicyRule>& held, const std::vector<PolicyRule>& wanted);

}  // namespace berth::apiserver::auth::rbac
