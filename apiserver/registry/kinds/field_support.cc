#include "apiserver/registry/kinds/field_support.h"

#include <functional>
#include <map>
#include <mutex>

#include "apiserver/registry/catalog.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

// Where each kind keeps pod specs and job specs, for the "PodSpec" and "JobSpec" scopes.
const std::map<std::string_view, std::vector<std::string_view>>& ScopePrefixes() {
  static const auto* prefixes = new std::map<std::string_view, std::vector<std::string_view>>{
      {"Pod", {"spec"}},
      {"Deployment", {"spec.template.spec"}},
      {"ReplicaSet", {"spec.template.spec"}},
      {"DaemonSet", {"spec.template.spec"}},
      {"Job", {"spec.template.spec"}},
      {"CronJob", {"spec.jobTemplate.spec.template.spec"}},
  };
  return *prefixes;
}

const std::map<std::string_view, std::vector<std::string_view>>& JobPrefixes() {
  static const auto* prefixes = new std::map<std::string_view, std::vector<std::string_view>>{
      {"Job", {"spec"}},
      {"CronJob", {"spec.jobTemplate.spec"}},
  };
  return *prefixes;
}

bool IsZero(const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::kNull: return true;
    case json::Value::Type::kBool: return !v.as_bool();
    case json::Value::Type::kInt: return v.as_int() == 0;
    case json::Value::Type::kDouble: return v.as_double() == 0;
    case json::Value::Type::kString: return v.as_string().empty();
    case json::Value::Type::kArray:
    case json::Value::Type::kObject: return v.size() == 0;
  }
  return true;
}

bool Triggers(const FieldRule& rule, const json::Value& v) {
  if (rule.when.empty()) return !IsZero(v);
  if (v.is_string()) return v.as_string() == rule.when;
  if (v.is_bool()) return (v.as_bool() ? "true" : "false") == rule.when;
  return false;
}

// One parsed step of a rule's path.
struct Step {
  std::string_view name;
  bool each = false;  // "name[]": every element of the array
};

// Calls `found` with every value at `steps` below `v`; `indices` holds the array index taken at
// each step (the concrete path is built only for a match: most rules find nothing).
void Visit(const json::Value& v, const std::vector<Step>& steps, size_t i, std::vector<size_t>& indices,
           const std::function<void(const std::vector<size_t>&, const json::Value&)>& found) {
  if (i == steps.size()) {
    found(indices, v);
    return;
  }
  const json::Value* next = v.Find(steps[i].name);
  if (next == nullptr) return;
  if (!steps[i].each) {
    Visit(*next, steps, i + 1, indices, found);
    return;
  }
  if (!next->is_array()) return;
  for (size_t k = 0; k < next->as_array().size(); ++k) {
    indices[i] = k;
    Visit(next->as_array()[k], steps, i + 1, indices, found);
  }
}

std::string ConcretePath(const std::vector<Step>& steps, const std::vector<size_t>& indices) {
  std::string out;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (i) out += '.';
    out.append(steps[i].name);
    if (steps[i].each) StrAppend(&out, "[", indices[i], "]");
  }
  return out;
}

std::vector<Step> Steps(std::string_view dotted) {
  std::vector<Step> out;
  for (std::string_view s : Split(dotted, '.')) {
    if (s.empty()) continue;
    bool each = s.size() > 2 && s.substr(s.size() - 2) == "[]";
    if (each) s.remove_suffix(2);
    out.push_back({s, each});
  }
  return out;
}

// The rules that apply to a kind, each with its full path parsed: computed once per kind, since
// admission runs this on every write.
struct BoundRule {
  const FieldRule* rule;
  std::vector<Step> steps;
};
const std::vector<BoundRule>& RulesFor(std::string_view kind) {
  static std::mutex mu;
  static auto* cache = new std::map<std::string, std::vector<BoundRule>, std::less<>>();
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache->find(kind); it != cache->end()) return it->second;
  std::vector<BoundRule> bound;
  for (const FieldRule& rule : FieldRules()) {
    std::vector<std::string_view> prefixes;
    if (rule.scope == "PodSpec") {
      if (auto it = ScopePrefixes().find(kind); it != ScopePrefixes().end()) prefixes = it->second;
    } else if (rule.scope == "JobSpec") {
      if (auto it = JobPrefixes().find(kind); it != JobPrefixes().end()) prefixes = it->second;
    } else if (rule.scope == kind) {
      prefixes = {""};
    }
    for (std::string_view prefix : prefixes) {
      std::vector<Step> steps = Steps(prefix);
      for (const Step& st : Steps(rule.path)) steps.push_back(st);
      bound.push_back({&rule, std::move(steps)});
    }
  }
  return cache->emplace(std::string(kind), std::move(bound)).first->second;
}

// Every (path, value) a rule matches in `object` of `kind`.
void Match(std::string_view kind, const json::Value& object,
           const std::function<void(const FieldRule&, const std::string&, const json::Value&)>& found) {
  for (const BoundRule& b : RulesFor(kind)) {
    std::vector<size_t> indices(b.steps.size(), 0);
    Visit(object, b.steps, 0, indices, [&](const std::vector<size_t>& at, const json::Value& v) {
      if (Triggers(*b.rule, v)) found(*b.rule, ConcretePath(b.steps, at), v);
    });
  }
}

}  // namespace

const std::vector<FieldRule>& FieldRules() {
  using S = Support;
  static const auto* rules = [] {
    auto* r = new std::vector<FieldRule>{
        // Containers and their probes.
        {"PodSpec", "containers[].stdinOnce", "", S::kWarn,
         "standard input stays open after the first attach ends (the main process sees no end of file)"},
        {"PodSpec", "containers[].tty", "", S::kWarn,
         "the main process gets no terminal: attach streams its output as pipes (exec -t has one)"},
        {"PodSpec", "containers[].resources.claims", "", S::kWarn, "dynamic resource claims are not allocated"},
        {"PodSpec", "containers[].resizePolicy", "", S::kWarn, "in-place resize is not supported"},
        {"PodSpec", "containers[].volumeMounts[].mountPropagation", "", S::kWarn,
         "mounts are always private (no propagation)"},
        {"PodSpec", "containers[].securityContext.seccompProfile.type", "Localhost", S::kWarn,
         "Localhost seccomp profiles are not supported (RuntimeDefault and Unconfined are): the container will not start"},
        {"PodSpec", "containers[].securityContext.seLinuxOptions", "", S::kWarn, "SELinux labels are not applied"},
        {"PodSpec", "containers[].securityContext.appArmorProfile", "", S::kWarn, "AppArmor profiles are not applied"},
        {"PodSpec", "containers[].securityContext.procMount", "Unmasked", S::kWarn, "/proc is always masked"},
        // Pod-level security.

        {"PodSpec", "securityContext.fsGroupChangePolicy", "Always", S::kWarn,
         "volume ownership is set once, when the volume is made (as OnRootMismatch), not at every start"},
        {"PodSpec", "securityContext.seccompProfile.type", "Localhost", S::kWarn,
         "Localhost seccomp profiles are not supported (RuntimeDefault and Unconfined are): the containers will not start"},
        {"PodSpec", "securityContext.seLinuxOptions", "", S::kWarn, "SELinux labels are not applied"},
        {"PodSpec", "securityContext.appArmorProfile", "", S::kWarn, "AppArmor profiles are not applied"},
        {"PodSpec", "securityContext.sysctls", "", S::kWarn, "sysctls are not set"},
        // Placement.
        {"PodSpec", "tolerations[].tolerationSeconds", "", S::kWarn,
         "pods are evicted from unreachable nodes after the controller-manager's eviction timeout, not after tolerationSeconds"},
        {"PodSpec", "readinessGates", "", S::kWarn, "readiness gates are not evaluated: readiness comes from the containers"},
        {"PodSpec", "runtimeClassName", "", S::kWarn, "there is one runtime: the class is ignored"},
        {"PodSpec", "overhead", "", S::kWarn, "pod overhead counts in scheduling, but the agent does not add it to any cgroup limit"},
        // Namespaces, names and network.
        {"PodSpec", "hostPID", "", S::kWarn, "containers always get their own PID namespace"},
        {"PodSpec", "hostIPC", "", S::kWarn, "containers always get their own IPC namespace"},
        {"PodSpec", "shareProcessNamespace", "", S::kWarn, "containers of a pod do not share a PID namespace"},
        {"PodSpec", "setHostnameAsFQDN", "", S::kWarn, "the hostname is never the FQDN"},
        // Volumes the agent cannot provide (the pod would fail with FailedMount).
        {"PodSpec", "volumes[].persistentVolumeClaim", "", S::kWarn, "persistent volume claims are not bound or mounted"},
        {"PodSpec", "volumes[].nfs", "", S::kWarn, "NFS volumes are not mounted"},
        {"PodSpec", "volumes[].csi", "", S::kWarn, "CSI volumes are not mounted"},
        {"PodSpec", "volumes[].ephemeral", "", S::kWarn, "generic ephemeral volumes are not mounted"},
        {"PodSpec", "volumes[].image", "", S::kWarn, "image volumes are not mounted"},
        {"PodSpec", "volumes[].emptyDir.medium", "Memory", S::kWarn, "emptyDir volumes are always on disk"},
        {"PodSpec", "volumes[].emptyDir.sizeLimit", "", S::kWarn, "emptyDir size limits are not enforced"},
        // Jobs.
        {"JobSpec", "completionMode", "Indexed", S::kRefuse,
         "Indexed Jobs are not supported yet: every pod would get the same work (no JOB_COMPLETION_INDEX); use NonIndexed"},
        {"JobSpec", "podFailurePolicy", "", S::kWarn, "pod failure policies are not applied: every failure counts against backoffLimit"},
        {"JobSpec", "successPolicy", "", S::kWarn, "success policies are not applied"},
        {"JobSpec", "backoffLimitPerIndex", "", S::kWarn, "per-index back-off limits are not applied"},
        {"JobSpec", "maxFailedIndexes", "", S::kWarn, "per-index failure limits are not applied"},
        {"JobSpec", "podReplacementPolicy", "Failed", S::kWarn, "replacement pods are created as soon as a pod terminates"},
        {"JobSpec", "managedBy", "", S::kWarn, "the built-in Job controller manages every Job"},
        // Custom resources.
        {"CustomResourceDefinition", "spec.versions[].selectableFields", "", S::kWarn,
         "field selectors on custom resources support metadata.name and metadata.namespace only"},
        {"CustomResourceDefinition", "spec.conversion.webhook", "", S::kWarn,
         "conversion webhooks are not called: versions are served side by side without conversion"},
    };
    return r;
  }();
  return *rules;
}

std::vector<std::string> UnhonouredFieldWarnings(std::string_view kind, const json::Value& object) {
  std::vector<std::string> warnings;
  std::vector<api::Cause> causes;
  CheckFieldSupport(kind, object, warnings, causes);
  return warnings;
}

std::vector<api::Cause> UnsupportedFieldCauses(std::string_view kind, const json::Value& object) {
  std::vector<std::string> warnings;
  std::vector<api::Cause> causes;
  CheckFieldSupport(kind, object, warnings, causes);
  return causes;
}

void CheckFieldSupport(std::string_view kind, const json::Value& object, std::vector<std::string>& warnings,
                       std::vector<api::Cause>& causes) {
  Match(kind, object, [&](const FieldRule& rule, const std::string& path, const json::Value& v) {
    if (rule.support == Support::kWarn) {
      warnings.push_back(StrCat(path, ": ", rule.why));
      return;
    }
    std::string value = v.is_string() ? StrCat("\"", v.as_string(), "\"") : (v.is_bool() && v.as_bool() ? "true" : "...");
    causes.push_back({"FieldValueNotSupported", StrCat("Unsupported value: ", value, ": ", rule.why), path});
  });
}

std::string CompatibilityMarkdown(const std::vector<std::string>& kinds) {
  std::string out =
      "# Compatibility: what Berth serves, honours and warns about\n\n"
      "Generated from `apiserver/registry/kinds/field_support.cc` by `berth-apiserver --print-compatibility`;\n"
      "a unit test fails when this file and the table differ. The apiserver answers a create or update\n"
      "that sets a *warned* field with a `Warning: 299` header naming it (kubectl prints it), and refuses\n"
      "a *refused* field with 422 and the reason. Every other field of the schemas in `schemas/` is\n"
      "honoured, with the exceptions in `docs/architecture.md`.\n\n"
      "## Served kinds\n\n";
  for (const std::string& k : kinds) StrAppend(&out, "- ", k, "\n");
  out +=
      "\nCustom resources of established CustomResourceDefinitions are served too.\n\n"
      "## Fields stored but not acted on, or refused\n\n"
      "`PodSpec` rules apply to a Pod's `spec` and to the pod template of Deployments, ReplicaSets,\n"
      "DaemonSets, Jobs and CronJobs; `JobSpec` rules to a Job's `spec` and a CronJob's job template.\n"
      "A rule with a value applies when the field has that value; the others when the field is set.\n\n"
      "| scope | field | when | answer | why |\n|---|---|---|---|---|\n";
  for (const FieldRule& r : FieldRules()) {
    StrAppend(&out, "| ", r.scope, " | `", r.path, "` | ", r.when.empty() ? "set" : StrCat("`", r.when, "`"), " | ",
              r.support == Support::kWarn ? "warning" : "422 refused", " | ", r.why, " |\n");
  }
  return out;
}

std::string CompatibilityDocument() {
  std::vector<std::string> kinds;
  for (const auto& t : Catalog::Builtin()->types()) {
    std::string line = StrCat("`", t->ApiVersion(), "` ", t->kind, " (`", t->plural, "`");
    if (t->has_status) line += ", /status";
    if (t->has_scale) line += ", /scale";
    line += ")";
    kinds.push_back(std::move(line));
  }
  return CompatibilityMarkdown(kinds);
}

}  // namespace berth::apiserver::registry::kinds
