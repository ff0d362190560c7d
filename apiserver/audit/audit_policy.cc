#include "apiserver/audit/audit_policy.h"

#include <fstream>
#include <sstream>

#include "core/strings/strings.h"
#include "core/yaml/yaml_codec.h"

namespace berth::apiserver::audit {
namespace {

absl::StatusOr<std::vector<std::string>> Strings(const json::Value& obj, const char* field, const std::string& where) {
  std::vector<std::string> out;
  const json::Value* v = obj.Find(field);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return absl::InvalidArgumentError(StrCat(where, ".", field, ": must be a list of strings"));
  for (const json::Value& s : v->as_array()) {
    if (!s.is_string()) return absl::InvalidArgumentError(StrCat(where, ".", field, ": must be a list of strings"));
    out.push_back(s.as_string());
  }
  return out;
}

absl::StatusOr<Level> ParseLevel(const json::Value* v, const std::string& where) {
  const std::string s = v != nullptr && v->is_string() ? v->as_string() : "";
  if (s == "None") return Level::kNone;
  if (s == "Metadata") return Level::kMetadata;
  if (s == "Request") return Level::kRequest;
  if (s == "RequestResponse") return Level::kRequestResponse;
  return absl::InvalidArgumentError(
      StrCat(where, ".level: Unsupported value: \"", s, "\": supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\""));
}

absl::Status CheckStages(const std::vector<std::string>& stages, const std::string& where) {
  for (const std::string& s : stages) {
    if (s != "RequestReceived" && s != "ResponseStarted" && s != "ResponseComplete" && s != "Panic") {
      return absl::InvalidArgumentError(StrCat(where, ".omitStages: Unsupported value: \"", s, "\""));
    }
  }
  return absl::OkStatus();
}

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  for (const std::string& s : list) {
    if (s == value) return true;
  }
  return false;
}

// resources entries: "pods", "pods/log", "*", "*/status", "pods/*" (upstream's ruleMatchesResource).
bool ResourceMatches(const GroupResources& gr, const RequestAttributes& r) {
  if (gr.group != r.api_group && gr.group != "*") return false;
  if (!gr.resources.empty()) {
    const std::string full = r.subresource.empty() ? r.resource : StrCat(r.resource, "/", r.subresource);
    bool any = false;
    for (const std::string& want : gr.resources) {
      if (want == full || want == "*" || (want == StrCat("*/", r.subresource) && !r.subresource.empty()) ||
          want == StrCat(r.resource, "/*")) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return gr.resource_names.empty() || Contains(gr.resource_names, r.name);
}

bool UrlMatches(const std::vector<std::string>& urls, const std::string& path) {
  for (const std::string& u : urls) {
    if (u == path) return true;
    if (!u.empty() && u.back() == '*' && path.rfind(u.substr(0, u.size() - 1), 0) == 0) return true;
  }
  return false;
}

bool RuleMatches(const PolicyRule& rule, const RequestAttributes& r) {
  if (!rule.users.empty() && (r.user == nullptr || !Contains(rule.users, r.user->name))) return false;
  if (!rule.user_groups.empty()) {
    bool any = false;
    if (r.user != nullptr) {
      for (const std::string& g : r.user->groups) any = any || Contains(rule.user_groups, g);
    }
    if (!any) return false;
  }
  if (!rule.verbs.empty() && !Contains(rule.verbs, r.verb)) return false;
  if (!rule.namespaces.empty() || !rule.resources.empty()) {
    if (!r.resource_request) return false;
    if (!rule.namespaces.empty() && !Contains(rule.namespaces, r.ns)) return false;
    if (!rule.resources.empty()) {
      bool any = false;
      for (const GroupResources& gr : rule.resources) any = any || ResourceMatches(gr, r);
      if (!any) return false;
    }
  }
  if (!rule.non_resource_urls.empty()) {
    if (r.resource_request) return false;
    if (!UrlMatches(rule.non_resource_urls, r.path)) return false;
  }
  return true;
}

PolicyRule Rule(Level level) {
  PolicyRule r;
  r.level = level;
  return r;
}

}  // namespace

const char* LevelName(Level level) {
  switch (level) {
    case Level::kNone: return "None";
    case Level::kMetadata: return "Metadata";
    case Level::kRequest: return "Request";
    case Level::kRequestResponse: return "RequestResponse";
  }
  return "None";
}

absl::StatusOr<AuditPolicy> ParsePolicy(const json::Value& doc) {
  if (!doc.is_object()) return absl::InvalidArgumentError("audit policy: not an object");
  const std::string api_version = doc.GetString({"apiVersion"});
  if (doc.GetString({"kind"}) != "Policy" || (api_version != "audit.k8s.io/v1" && api_version != "audit.k8s.io/v1beta1")) {
    return absl::InvalidArgumentError("audit policy: kind must be Policy and apiVersion audit.k8s.io/v1");
  }
  AuditPolicy policy;
  auto stages = Strings(doc, "omitStages", "policy");
  if (!stages.ok()) return stages.status();
  policy.omit_stages = *stages;
  if (absl::Status s = CheckStages(policy.omit_stages, "policy"); !s.ok()) return s;
  const json::Value* rules = doc.Find("rules");
  if (rules == nullptr || !rules->is_array() || rules->size() == 0) {
    return absl::InvalidArgumentError("audit policy: rules: Required value: at least one rule");
  }
  for (size_t i = 0; i < rules->size(); ++i) {
    const json::Value& in = rules->as_array()[i];
    const std::string where = StrCat("rules[", i, "]");
    if (!in.is_object()) return absl::InvalidArgumentError(StrCat(where, ": must be an object"));
    PolicyRule rule;
    auto level = ParseLevel(in.Find("level"), where);
    if (!level.ok()) return level.status();
    rule.level = *level;
    for (auto [field, out] : {std::pair{"users", &rule.users}, std::pair{"userGroups", &rule.user_groups},
                              std::pair{"verbs", &rule.verbs}, std::pair{"namespaces", &rule.namespaces},
                              std::pair{"nonResourceURLs", &rule.non_resource_urls},
                              std::pair{"omitStages", &rule.omit_stages}}) {
      auto got = Strings(in, field, where);
      if (!got.ok()) return got.status();
      *out = *got;
    }
    if (absl::Status s = CheckStages(rule.omit_stages, where); !s.ok()) return s;
    if (const json::Value* resources = in.Find("resources"); resources != nullptr && !resources->is_null()) {
      if (!resources->is_array()) return absl::InvalidArgumentError(StrCat(where, ".resources: must be a list"));
      for (size_t j = 0; j < resources->size(); ++j) {
        const json::Value& g = resources->as_array()[j];
        const std::string gw = StrCat(where, ".resources[", j, "]");
        if (!g.is_object()) return absl::InvalidArgumentError(StrCat(gw, ": must be an object"));
        GroupResources gr;
        gr.group = g.GetString({"group"});
        auto names = Strings(g, "resources", gw);
        if (!names.ok()) return names.status();
        gr.resources = *names;
        auto rn = Strings(g, "resourceNames", gw);
        if (!rn.ok()) return rn.status();
        gr.resource_names = *rn;
        rule.resources.push_back(std::move(gr));
      }
    }
    if (!rule.non_resource_urls.empty() && (!rule.resources.empty() || !rule.namespaces.empty())) {
      return absl::InvalidArgumentError(
          StrCat(where, ".nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs"));
    }
    policy.rules.push_back(std::move(rule));
  }
  return policy;
}

absl::StatusOr<AuditPolicy> LoadPolicyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("--audit-policy-file: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  auto doc = yaml::ParseSingle(text.str());
  if (!doc.ok()) return absl::InvalidArgumentError(StrCat("--audit-policy-file ", path, ": ", doc.status().message()));
  auto policy = ParsePolicy(*doc);
  if (!policy.ok()) return absl::InvalidArgumentError(StrCat("--audit-policy-file ", path, ": ", policy.status().message()));
  return policy;
}

AuditPolicy DefaultPolicy() {
  AuditPolicy p;
  p.omit_stages = {"RequestReceived"};
  PolicyRule health = Rule(Level::kNone);
  health.non_resource_urls = {"/healthz*", "/livez*", "/readyz*", "/version"};
  p.rules.push_back(health);
  PolicyRule leases = Rule(Level::kNone);
  leases.verbs = {"get", "update", "patch"};
  leases.resources = {{"coordination.k8s.io", {"leases"}, {}}};
  p.rules.push_back(leases);
  PolicyRule secrets = Rule(Level::kMetadata);
  secrets.resources = {{"", {"secrets", "configmaps", "serviceaccounts/token"}, {}},
                       {"authentication.k8s.io", {"tokenreviews"}, {}}};
  p.rules.push_back(secrets);
  PolicyRule writes = Rule(Level::kRequest);
  writes.verbs = {"create", "update", "patch", "delete", "deletecollection"};
  p.rules.push_back(writes);
  p.rules.push_back(Rule(Level::kMetadata));
  return p;
}

Decision Evaluate(const AuditPolicy& policy, const RequestAttributes& request) {
  for (const PolicyRule& rule : policy.rules) {
    if (!RuleMatches(rule, request)) continue;
    Decision d{rule.level, policy.omit_stages};
    d.omit_stages.insert(d.omit_stages.end(), rule.omit_stages.begin(), rule.omit_stages.end());
    return d;
  }
  return {};
}

}  // namespace berth::apiserver::audit
