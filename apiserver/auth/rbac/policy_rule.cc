#include "apiserver/auth/rbac/policy_rule.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::apiserver::auth::rbac {
namespace {

std::vector<std::string> Strings(const json::Value& rule, std::string_view key) {
  std::vector<std::string> out;
  const json::Value* v = rule.Find(key);
  if (v == nullptr || !v->is_array()) return out;
  for (const json::Value& s : v->as_array()) {
    if (s.is_string()) out.push_back(s.as_string());
  }
  return out;
}

bool Has(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool VerbMatches(const PolicyRule& r, const std::string& verb) { return Has(r.verbs, "*") || Has(r.verbs, verb); }

bool GroupMatches(const PolicyRule& r, const std::string& group) {
  return Has(r.api_groups, "*") || Has(r.api_groups, group);
}

bool ResourceMatches(const PolicyRule& r, const std::string& combined, const std::string& subresource) {
  for (const std::string& res : r.resources) {
    if (res == "*" || res == combined) return true;
    // `*/scale` covers the scale subresource of every resource.
    if (!subresource.empty() && res.size() == subresource.size() + 2 && absl::StartsWith(res, "*/") &&
        absl::EndsWith(res, subresource)) {
      return true;
    }
  }
  return false;
}

bool NameMatches(const PolicyRule& r, const std::string& name) {
  if (r.resource_names.empty()) return true;
  return !name.empty() && Has(r.resource_names, name);
}

bool UrlMatches(const PolicyRule& r, const std::string& path) {
  for (const std::string& url : r.non_resource_urls) {
    if (url == "*" || url == path) return true;
    if (absl::EndsWith(url, "*") && absl::StartsWith(path, url.substr(0, url.size() - 1))) return true;
  }
  return false;
}

std::string Quoted(const std::vector<std::string>& list) {
  std::vector<std::string> q;
  for (const std::string& s : list) q.push_back(absl::StrCat("\"", s, "\""));
  return absl::StrCat("[", absl::StrJoin(q, " "), "]");
}

json::Value StringArray(const std::vector<std::string>& list) {
  json::Value a = json::Value::MakeArray();
  for (const std::string& s : list) a.as_array().push_back(json::Value(s));
  return a;
}

}  // namespace

PolicyRule ParsePolicyRule(const json::Value& rule) {
  PolicyRule r;
  r.verbs = Strings(rule, "verbs");
  r.api_groups = Strings(rule, "apiGroups");
  r.resources = Strings(rule, "resources");
  r.resource_names = Strings(rule, "resourceNames");
  r.non_resource_urls = Strings(rule, "nonResourceURLs");
  return r;
}

std::vector<PolicyRule> ParsePolicyRules(const json::Value* rules) {
  std::vector<PolicyRule> out;
  if (rules == nullptr || !rules->is_array()) return out;
  for (const json::Value& r : rules->as_array()) {
    if (r.is_object()) out.push_back(ParsePolicyRule(r));
  }
  return out;
}

json::Value PolicyRuleToJson(const PolicyRule& r) {
  json::Value out = json::Value::MakeObject();
  out.Set("verbs", StringArray(r.verbs));
  if (!r.api_groups.empty()) out.Set("apiGroups", StringArray(r.api_groups));
  if (!r.resources.empty()) out.Set("resources", StringArray(r.resources));
  if (!r.resource_names.empty()) out.Set("resourceNames", StringArray(r.resource_names));
  if (!r.non_resource_urls.empty()) out.Set("nonResourceURLs", StringArray(r.non_resource_urls));
  return out;
}

bool RuleAllows(const PolicyRule& rule, const Attributes& a) {
  if (!VerbMatches(rule, a.verb)) return false;
  if (!a.resource_request) return UrlMatches(rule, a.path);
  std::string combined = a.subresource.empty() ? a.resource : absl::StrCat(a.resource, "/", a.subresource);
  return GroupMatches(rule, a.api_group) && ResourceMatches(rule, combined, a.subresource) && NameMatches(rule, a.name);
}

std::string DescribeRule(const PolicyRule& r) {
  std::vector<std::string> parts;
  if (!r.api_groups.empty()) parts.push_back(absl::StrCat("APIGroups:", Quoted(r.api_groups)));
  if (!r.resources.empty()) parts.push_back(absl::StrCat("Resources:", Quoted(r.resources)));
  if (!r.resource_names.empty()) parts.push_back(absl::StrCat("ResourceNames:", Quoted(r.resource_names)));
  if (!r.non_resource_urls.empty()) parts.push_back(absl::StrCat("NonResourceURLs:", Quoted(r.non_resource_urls)));
  parts.push_back(absl::StrCat("Verbs:", Quoted(r.verbs)));
  return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
}

}  // namespace berth::apiserver::auth::rbac

namespace berth::apiserver::auth::rbac {
namespace {

bool HeldCovers(const PolicyRule& owner, const PolicyRule& atom) {
  if (!VerbMatches(owner, atom.verbs[0])) return false;
  if (!atom.non_resource_urls.empty()) {
    const std::string& url = atom.non_resource_urls[0];
    for (const std::string& o : owner.non_resource_urls) {
      if (o == url) return true;
      if (absl::EndsWith(o, "*") && absl::StartsWith(url, o.substr(0, o.size() - 1))) return true;
    }
    return false;
  }
  if (!owner.non_resource_urls.empty() && owner.resources.empty()) return false;
  if (!GroupMatches(owner, atom.api_groups[0])) return false;
  const std::string& res = atom.resources[0];
  bool resource = Has(owner.resources, "*") || Has(owner.resources, res);
  if (!resource) {
    if (auto slash = res.find('/'); slash != std::string::npos) resource = Has(owner.resources, "*" + res.substr(slash));
  }
  if (!resource) return false;
  if (owner.resource_names.empty()) return true;
  return !atom.resource_names.empty() && Has(owner.resource_names, atom.resource_names[0]);
}

std::vector<PolicyRule> Atoms(const PolicyRule& r) {
  std::vector<PolicyRule> out;
  for (const std::string& verb : r.verbs) {
    for (const std::string& url : r.non_resource_urls) out.push_back({{verb}, {}, {}, {}, {url}});
    for (const std::string& group : r.api_groups) {
      for (const std::string& res : r.resources) {
        if (r.resource_names.empty()) {
          out.push_back({{verb}, {group}, {res}, {}, {}});
        } else {
          for (const std::string& name : r.resource_names) out.push_back({{verb}, {group}, {res}, {name}, {}});
        }
      }
    }
  }
  return out;
}

}  // namespace

std::vector<PolicyRule> Uncovered(const std::vector<PolicyRule>& held, const std::vector<PolicyRule>& wanted) {
  std::vector<PolicyRule> missing;
  for (const PolicyRule& w : wanted) {
    for (PolicyRule& atom : Atoms(w)) {
      bool covered = false;
      for (const PolicyRule& h : held) covered = covered || HeldCovers(h, atom);
      if (covered) continue;
      // Merge with an earlier missing rule on the same group, resource and name (or URL).
      bool merged = false;
      for (PolicyRule& m : missing) {
        if (m.api_groups == atom.api_groups && m.resources == atom.resources && m.resource_names == atom.resource_names &&
            m.non_resource_urls == atom.non_resource_urls) {
          if (!Has(m.verbs, atom.verbs[0])) m.verbs.push_back(atom.verbs[0]);
          merged = true;
          break;
        }
      }
      if (!merged) missing.push_back(std::move(atom));
    }
  }
  // Upstream sorts the compacted rules by their printed form.
  std::sort(missing.begin(), missing.end(),
            [](const PolicyRule& a, const PolicyRule& b) { return DescribeRule(a) < DescribeRule(b); });
  return missing;
}

}  // namespace berth::apiserver::auth::rbac
