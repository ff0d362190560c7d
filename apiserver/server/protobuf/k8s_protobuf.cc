#include "apiserver/server/protobuf/k8s_protobuf.h"

#include <map>
#include <vector>

#include "absl/strings/escaping.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

// --- The wire format ---------------------------------------------------------------------

struct Reader {
  std::string_view data;
  size_t pos = 0;
  bool done() const { return pos >= data.size(); }
  bool Varint(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64 && pos < data.size(); shift += 7) {
      uint8_t b = static_cast<uint8_t>(data[pos++]);
      out |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Bytes(std::string_view& out) {
    uint64_t n;
    if (!Varint(n) || n > data.size() - pos) return false;
    out = data.substr(pos, n);
    pos += n;
    return true;
  }
  bool Skip(int wire_type) {
    uint64_t v;
    std::string_view s;
    switch (wire_type) {
      case 0: return Varint(v);
      case 1: if (data.size() - pos < 8) return false; pos += 8; return true;
      case 2: return Bytes(s);
      case 5: if (data.size() - pos < 4) return false; pos += 4; return true;
      default: return false;
    }
  }
};

// --- The messages ------------------------------------------------------------------------

enum class T {
  kString, kBytes, kInt, kBool, kMessage,
  kMapString,    // map<string, string>
  kMapBytes,     // map<string, bytes> (base64 in JSON)
  kMapQuantity,  // map<string, resource.Quantity>
  kIntOrString,
  kIgnore,       // server-set (creationTimestamp, managedFields, ...): dropped
};

struct Msg;
struct Field {
  int number;
  const char* name;
  T type;
  const Msg* msg = nullptr;
  bool repeated = false;
  bool keep_zero = false;  // a pointer in Go: 0/false/"" is a value, not "unset"
};
struct Msg {
  const char* name;
  std::vector<Field> fields;
};

const Msg kEmpty{"(status)", {}};
const Msg kObjectMeta{"ObjectMeta", {
    {1, "name", T::kString}, {2, "generateName", T::kString}, {3, "namespace", T::kString},
    {4, "selfLink", T::kIgnore}, {5, "uid", T::kIgnore}, {6, "resourceVersion", T::kString},
    {7, "generation", T::kIgnore}, {8, "creationTimestamp", T::kIgnore}, {9, "deletionTimestamp", T::kIgnore},
    {10, "deletionGracePeriodSeconds", T::kIgnore}, {11, "labels", T::kMapString}, {12, "annotations", T::kMapString},
    {14, "finalizers", T::kString, nullptr, true}, {17, "managedFields", T::kIgnore}}};
const Msg kLabelRequirement{"LabelSelectorRequirement", {
    {1, "key", T::kString}, {2, "operator", T::kString}, {3, "values", T::kString, nullptr, true}}};
const Msg kLabelSelector{"LabelSelector", {
    {1, "matchLabels", T::kMapString}, {2, "matchExpressions", T::kMessage, &kLabelRequirement, true}}};
const Msg kLocalObjectReference{"LocalObjectReference", {{1, "name", T::kString}}};
const Msg kContainerPort{"ContainerPort", {
    {1, "name", T::kString}, {2, "hostPort", T::kInt}, {3, "containerPort", T::kInt}, {4, "protocol", T::kString},
    {5, "hostIP", T::kString}}};
const Msg kEnvVar{"EnvVar", {{1, "name", T::kString}, {2, "value", T::kString}}};
const Msg kResources{"ResourceRequirements", {{1, "limits", T::kMapQuantity}, {2, "requests", T::kMapQuantity}}};
const Msg kContainer{"Container", {
    {1, "name", T::kString}, {2, "image", T::kString}, {3, "command", T::kString, nullptr, true},
    {4, "args", T::kString, nullptr, true}, {5, "workingDir", T::kString},
    {6, "ports", T::kMessage, &kContainerPort, true}, {7, "env", T::kMessage, &kEnvVar, true},
    {8, "resources", T::kMessage, &kResources}, {13, "terminationMessagePath", T::kString},
    {14, "imagePullPolicy", T::kString}, {16, "stdin", T::kBool}, {17, "stdinOnce", T::kBool}, {18, "tty", T::kBool},
    {20, "terminationMessagePolicy", T::kString}}};
const Msg kPodSpec{"PodSpec", {
    {2, "containers", T::kMessage, &kContainer, true}, {3, "restartPolicy", T::kString},
    {4, "terminationGracePeriodSeconds", T::kInt, nullptr, false, true},
    {5, "activeDeadlineSeconds", T::kInt, nullptr, false, true}, {6, "dnsPolicy", T::kString},
    {7, "nodeSelector", T::kMapString}, {8, "serviceAccountName", T::kString}, {9, "serviceAccount", T::kString},
    {10, "nodeName", T::kString}, {11, "hostNetwork", T::kBool}, {12, "hostPID", T::kBool}, {13, "hostIPC", T::kBool},
    {14, "securityContext", T::kMessage, &kEmpty}, {16, "hostname", T::kString}, {17, "subdomain", T::kString},
    {15, "imagePullSecrets", T::kMessage, &kLocalObjectReference, true}, {19, "schedulerName", T::kString},
    {24, "priorityClassName", T::kString}, {29, "runtimeClassName", T::kString, nullptr, false, true}, {20, "initContainers", T::kMessage, &kContainer, true}}};
const Msg kPodTemplateSpec{"PodTemplateSpec", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kPodSpec}}};
const Msg kRollingUpdate{"RollingUpdateDeployment", {{1, "maxUnavailable", T::kIntOrString}, {2, "maxSurge", T::kIntOrString}}};
const Msg kStrategy{"DeploymentStrategy", {{1, "type", T::kString}, {2, "rollingUpdate", T::kMessage, &kRollingUpdate}}};
const Msg kDeploymentSpec{"DeploymentSpec", {
    {1, "replicas", T::kInt, nullptr, false, true}, {2, "selector", T::kMessage, &kLabelSelector},
    {3, "template", T::kMessage, &kPodTemplateSpec}, {4, "strategy", T::kMessage, &kStrategy},
    {5, "minReadySeconds", T::kInt}, {6, "revisionHistoryLimit", T::kInt, nullptr, false, true},
    {7, "paused", T::kBool}, {9, "progressDeadlineSeconds", T::kInt, nullptr, false, true}}};
const Msg kJobSpec{"JobSpec", {
    {1, "parallelism", T::kInt, nullptr, false, true}, {2, "completions", T::kInt, nullptr, false, true},
    {3, "activeDeadlineSeconds", T::kInt, nullptr, false, true}, {4, "selector", T::kMessage, &kLabelSelector},
    {5, "manualSelector", T::kBool, nullptr, false, true}, {6, "template", T::kMessage, &kPodTemplateSpec},
    {7, "backoffLimit", T::kInt, nullptr, false, true}, {8, "ttlSecondsAfterFinished", T::kInt, nullptr, false, true},
    {9, "completionMode", T::kString, nullptr, false, true}, {10, "suspend", T::kBool, nullptr, false, true}}};
const Msg kJobTemplateSpec{"JobTemplateSpec", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kJobSpec}}};
const Msg kCronJobSpec{"CronJobSpec", {
    {1, "schedule", T::kString}, {2, "startingDeadlineSeconds", T::kInt, nullptr, false, true},
    {3, "concurrencyPolicy", T::kString}, {4, "suspend", T::kBool, nullptr, false, true},
    {5, "jobTemplate", T::kMessage, &kJobTemplateSpec}, {6, "successfulJobsHistoryLimit", T::kInt, nullptr, false, true},
    {7, "failedJobsHistoryLimit", T::kInt, nullptr, false, true}, {8, "timeZone", T::kString, nullptr, false, true}}};
const Msg kNamespaceSpec{"NamespaceSpec", {{1, "finalizers", T::kString, nullptr, true}}};

const Msg kNamespace{"Namespace", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kNamespaceSpec},
                                   {3, "status", T::kIgnore}}};
const Msg kConfigMap{"ConfigMap", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "data", T::kMapString},
                                   {3, "binaryData", T::kMapBytes}, {4, "immutable", T::kBool, nullptr, false, true}}};
const Msg kSecret{"Secret", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "data", T::kMapBytes}, {3, "type", T::kString},
                             {4, "stringData", T::kMapString}, {5, "immutable", T::kBool, nullptr, false, true}}};
const Msg kServiceAccount{"ServiceAccount", {{1, "metadata", T::kMessage, &kObjectMeta},
                                             {3, "imagePullSecrets", T::kMessage, &kLocalObjectReference, true},
                                             {4, "automountServiceAccountToken", T::kBool, nullptr, false, true}}};
const Msg kDeployment{"Deployment", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kDeploymentSpec},
                                     {3, "status", T::kIgnore}}};
const Msg kJob{"Job", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kJobSpec},
                       {3, "status", T::kIgnore}}};
const Msg kCronJob{"CronJob", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kCronJobSpec},
                               {3, "status", T::kIgnore}}};

// value is a plain int32 in Go: always sent, and 0 is a priority like any other.
const Msg kPriorityClass{"PriorityClass", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "value", T::kInt, nullptr, false, true},
                                           {3, "globalDefault", T::kBool}, {4, "description", T::kString},
                                           {5, "preemptionPolicy", T::kString}}};

const Msg kPdbSpec{"PodDisruptionBudgetSpec", {{1, "minAvailable", T::kIntOrString}, {2, "selector", T::kMessage, &kLabelSelector},
                                               {3, "maxUnavailable", T::kIntOrString}, {4, "unhealthyPodEvictionPolicy", T::kString}}};
const Msg kPodDisruptionBudget{"PodDisruptionBudget", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kPdbSpec},
                                                       {3, "status", T::kIgnore}}};

const Msg kScopedRequirement{"ScopedResourceSelectorRequirement", {
    {1, "scopeName", T::kString}, {2, "operator", T::kString}, {3, "values", T::kString, nullptr, true}}};
const Msg kScopeSelector{"ScopeSelector", {{1, "matchExpressions", T::kMessage, &kScopedRequirement, true}}};
const Msg kResourceQuotaSpec{"ResourceQuotaSpec", {{1, "hard", T::kMapQuantity}, {2, "scopes", T::kString, nullptr, true},
                                                   {3, "scopeSelector", T::kMessage, &kScopeSelector}}};
const Msg kResourceQuota{"ResourceQuota", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kResourceQuotaSpec},
                                           {3, "status", T::kIgnore}}};

// authorization.k8s.io/v1 and authentication.k8s.io/v1: what `kubectl auth can-i` and `auth
// whoami` send.
const Msg kResourceAttributes{"ResourceAttributes", {
    {1, "namespace", T::kString}, {2, "verb", T::kString}, {3, "group", T::kString}, {4, "version", T::kString},
    {5, "resource", T::kString}, {6, "subresource", T::kString}, {7, "name", T::kString}}};
const Msg kNonResourceAttributes{"NonResourceAttributes", {{1, "path", T::kString}, {2, "verb", T::kString}}};
const Msg kSelfSubjectAccessReviewSpec{"SelfSubjectAccessReviewSpec", {
    {1, "resourceAttributes", T::kMessage, &kResourceAttributes},
    {2, "nonResourceAttributes", T::kMessage, &kNonResourceAttributes}}};
const Msg kSubjectAccessReviewSpec{"SubjectAccessReviewSpec", {
    {1, "resourceAttributes", T::kMessage, &kResourceAttributes},
    {2, "nonResourceAttributes", T::kMessage, &kNonResourceAttributes}, {3, "user", T::kString},
    {4, "groups", T::kString, nullptr, true}, {6, "uid", T::kString}}};
const Msg kSelfSubjectAccessReview{"SelfSubjectAccessReview", {
    {1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kSelfSubjectAccessReviewSpec}, {3, "status", T::kIgnore}}};
const Msg kSubjectAccessReview{"SubjectAccessReview", {
    {1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kSubjectAccessReviewSpec}, {3, "status", T::kIgnore}}};
const Msg kSelfSubjectRulesReviewSpec{"SelfSubjectRulesReviewSpec", {{1, "namespace", T::kString}}};
const Msg kSelfSubjectRulesReview{"SelfSubjectRulesReview", {
    {1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kSelfSubjectRulesReviewSpec}, {3, "status", T::kIgnore}}};
const Msg kSelfSubjectReview{"SelfSubjectReview", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "status", T::kIgnore}}};
// `kubectl create token` and TokenReview callers.
const Msg kBoundObjectReference{"BoundObjectReference", {
    {1, "kind", T::kString}, {2, "apiVersion", T::kString}, {3, "name", T::kString}, {4, "uid", T::kString}}};
const Msg kTokenRequestSpec{"TokenRequestSpec", {
    {1, "audiences", T::kString, nullptr, true}, {3, "boundObjectRef", T::kMessage, &kBoundObjectReference},
    {4, "expirationSeconds", T::kInt, nullptr, false, true}}};
const Msg kTokenRequest{"TokenRequest", {
    {1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kTokenRequestSpec}, {3, "status", T::kIgnore}}};
const Msg kTokenReviewSpec{"TokenReviewSpec", {{1, "token", T::kString}, {2, "audiences", T::kString, nullptr, true}}};
const Msg kTokenReview{"TokenReview", {
    {1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kTokenReviewSpec}, {3, "status", T::kIgnore}}};

// certificates.k8s.io/v1: `kubectl certificate approve|deny` PUTs the whole object to /approval.
const Msg kCsrSpec{"CertificateSigningRequestSpec", {
    {1, "request", T::kBytes}, {2, "username", T::kString}, {3, "uid", T::kString},
    {4, "groups", T::kString, nullptr, true}, {5, "usages", T::kString, nullptr, true}, {6, "extra", T::kIgnore},
    {7, "signerName", T::kString}, {8, "expirationSeconds", T::kInt, nullptr, false, true}}};
const Msg kCsrCondition{"CertificateSigningRequestCondition", {
    {1, "type", T::kString}, {2, "reason", T::kString}, {3, "message", T::kString}, {4, "lastUpdateTime", T::kIgnore},
    {5, "lastTransitionTime", T::kIgnore}, {6, "status", T::kString}}};
const Msg kCsrStatus{"CertificateSigningRequestStatus", {
    {1, "conditions", T::kMessage, &kCsrCondition, true}, {2, "certificate", T::kBytes}}};
const Msg kCertificateSigningRequest{"CertificateSigningRequest", {
    {1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kCsrSpec}, {3, "status", T::kMessage, &kCsrStatus}}};

// rbac.authorization.k8s.io/v1: `kubectl create role|clusterrole|rolebinding|clusterrolebinding`.
const Msg kPolicyRule{"PolicyRule", {
    {1, "verbs", T::kString, nullptr, true}, {2, "apiGroups", T::kString, nullptr, true},
    {3, "resources", T::kString, nullptr, true}, {4, "resourceNames", T::kString, nullptr, true},
    {5, "nonResourceURLs", T::kString, nullptr, true}}};
const Msg kAggregationRule{"AggregationRule", {{1, "clusterRoleSelectors", T::kMessage, &kLabelSelector, true}}};
const Msg kRole{"Role", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "rules", T::kMessage, &kPolicyRule, true}}};
const Msg kClusterRole{"ClusterRole", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "rules", T::kMessage, &kPolicyRule, true},
                                       {3, "aggregationRule", T::kMessage, &kAggregationRule}}};
const Msg kSubject{"Subject", {{1, "kind", T::kString}, {2, "apiGroup", T::kString}, {3, "name", T::kString},
                               {4, "namespace", T::kString}}};
const Msg kRoleRef{"RoleRef", {{1, "apiGroup", T::kString}, {2, "kind", T::kString}, {3, "name", T::kString}}};
const Msg kRoleBinding{"RoleBinding", {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "subjects", T::kMessage, &kSubject, true},
                                       {3, "roleRef", T::kMessage, &kRoleRef}}};

const Msg* ForKind(const std::string& api_version, const std::string& kind) {
  static const std::map<std::pair<std::string, std::string>, const Msg*> kinds = {
      {{"v1", "Namespace"}, &kNamespace},         {{"v1", "ConfigMap"}, &kConfigMap},
      {{"v1", "Secret"}, &kSecret},               {{"v1", "ServiceAccount"}, &kServiceAccount},
      {{"apps/v1", "Deployment"}, &kDeployment},  {{"batch/v1", "Job"}, &kJob},
      {{"batch/v1", "CronJob"}, &kCronJob},       {{"scheduling.k8s.io/v1", "PriorityClass"}, &kPriorityClass},
      {{"policy/v1", "PodDisruptionBudget"}, &kPodDisruptionBudget}, {{"v1", "ResourceQuota"}, &kResourceQuota},
      {{"authorization.k8s.io/v1", "SelfSubjectAccessReview"}, &kSelfSubjectAccessReview},
      {{"authorization.k8s.io/v1", "SubjectAccessReview"}, &kSubjectAccessReview},
      {{"authorization.k8s.io/v1", "LocalSubjectAccessReview"}, &kSubjectAccessReview},
      {{"authorization.k8s.io/v1", "SelfSubjectRulesReview"}, &kSelfSubjectRulesReview},
      {{"authentication.k8s.io/v1", "SelfSubjectReview"}, &kSelfSubjectReview},
      {{"authentication.k8s.io/v1", "TokenRequest"}, &kTokenRequest},
      {{"authentication.k8s.io/v1", "TokenReview"}, &kTokenReview},
      {{"certificates.k8s.io/v1", "CertificateSigningRequest"}, &kCertificateSigningRequest},
      {{"rbac.authorization.k8s.io/v1", "Role"}, &kRole},
      {{"rbac.authorization.k8s.io/v1", "ClusterRole"}, &kClusterRole},
      {{"rbac.authorization.k8s.io/v1", "RoleBinding"}, &kRoleBinding},
      {{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding"}, &kRoleBinding}};
  auto it = kinds.find({api_version, kind});
  return it == kinds.end() ? nullptr : it->second;
}

absl::Status Malformed(const std::string& where) {
  return absl::InvalidArgumentError(StrCat("the protobuf body is malformed at ", where));
}

absl::StatusOr<json::Value> DecodeMessage(const Msg& msg, std::string_view data, const std::string& path, int depth);

// A map entry: field 1 key, field 2 value (a string, bytes, or a Quantity message {1: string}).
absl::Status DecodeMapEntry(std::string_view data, T type, json::Value& map, const std::string& path) {
  Reader r{data};
  std::string key, value;
  while (!r.done()) {
    uint64_t tag;
    std::string_view bytes;
    if (!r.Varint(tag) || (tag & 7) != 2 || !r.Bytes(bytes)) return Malformed(path);
    if ((tag >> 3) == 1) {
      key = std::string(bytes);
    } else if ((tag >> 3) == 2) {
      if (type == T::kMapQuantity) {
        Reader q{bytes};
        uint64_t qtag;
        std::string_view s;
        while (!q.done()) {
          if (!q.Varint(qtag) || (qtag & 7) != 2 || !q.Bytes(s)) return Malformed(path);
          if ((qtag >> 3) == 1) value = std::string(s);
        }
      } else {
        value = std::string(bytes);
      }
    }
  }
  if (type == T::kMapBytes) value = absl::Base64Escape(Sv(std::string_view(value)));
  map.Set(key, value);
  return absl::OkStatus();
}

absl::StatusOr<json::Value> DecodeIntOrString(std::string_view data, const std::string& path) {
  Reader r{data};
  uint64_t type = 0, int_val = 0;
  std::string str_val;
  while (!r.done()) {
    uint64_t tag;
    if (!r.Varint(tag)) return Malformed(path);
    int num = static_cast<int>(tag >> 3);
    if (num == 1 && (tag & 7) == 0) {
      if (!r.Varint(type)) return Malformed(path);
    } else if (num == 2 && (tag & 7) == 0) {
      if (!r.Varint(int_val)) return Malformed(path);
    } else if (num == 3 && (tag & 7) == 2) {
      std::string_view s;
      if (!r.Bytes(s)) return Malformed(path);
      str_val = std::string(s);
    } else if (!r.Skip(static_cast<int>(tag & 7))) {
      return Malformed(path);
    }
  }
  if (type == 1) return json::Value(str_val);
  return json::Value(static_cast<int64_t>(static_cast<int32_t>(int_val)));
}

absl::StatusOr<json::Value> DecodeMessage(const Msg& msg, std::string_view data, const std::string& path, int depth) {
  if (depth > 32) return Malformed(path + " (nested too deeply)");
  json::Value out = json::Value::MakeObject();
  Reader r{data};
  while (!r.done()) {
    uint64_t tag;
    if (!r.Varint(tag)) return Malformed(path);
    int number = static_cast<int>(tag >> 3);
    int wire = static_cast<int>(tag & 7);
    const Field* f = nullptr;
    for (const Field& candidate : msg.fields) {
      if (candidate.number == number) f = &candidate;
    }
    if (f == nullptr) {
      return absl::InvalidArgumentError(StrCat("protobuf field ", number, " of ", msg.name, " (at ", path.empty() ? "the object" : path,
                                               ") is not decoded by Berth: send this object as JSON or YAML"));
    }
    std::string here = path.empty() ? f->name : path + "." + f->name;
    if (f->type == T::kIgnore) {
      if (!r.Skip(wire)) return Malformed(here);
      continue;
    }
    if (f->type == T::kInt || f->type == T::kBool) {
      uint64_t v;
      if (wire != 0 || !r.Varint(v)) return Malformed(here);
      if (v == 0 && !f->keep_zero) continue;
      json::Value value = f->type == T::kBool ? json::Value(v != 0) : json::Value(static_cast<int64_t>(v));
      if (f->repeated) out.Ensure({f->name}).as_array().push_back(value);
      else out.Set(f->name, value);
      continue;
    }
    std::string_view bytes;
    if (wire != 2 || !r.Bytes(bytes)) return Malformed(here);
    json::Value value;
    switch (f->type) {
      case T::kString:
        if (bytes.empty() && !f->keep_zero && !f->repeated) continue;
        value = json::Value(std::string(bytes));
        break;
      case T::kBytes:
        value = json::Value(absl::Base64Escape(Sv(bytes)));
        break;
      case T::kMapString:
      case T::kMapBytes:
      case T::kMapQuantity: {
        json::Value* map = out.Find(f->name);
        if (map == nullptr) map = &out.Set(f->name, json::Value::MakeObject());
        if (absl::Status s = DecodeMapEntry(bytes, f->type, *map, here); !s.ok()) return s;
        continue;
      }
      case T::kIntOrString: {
        auto v = DecodeIntOrString(bytes, here);
        if (!v.ok()) return v.status();
        value = *std::move(v);
        break;
      }
      case T::kMessage: {
        auto v = DecodeMessage(*f->msg, bytes, here, depth + 1);
        if (!v.ok()) return v.status();
        value = *std::move(v);
        break;
      }
      default:
        return Malformed(here);
    }
    if (f->repeated) {
      json::Value* list = out.Find(f->name);
      if (list == nullptr) list = &out.Set(f->name, json::Value::MakeArray());
      list->as_array().push_back(std::move(value));
    } else {
      out.Set(f->name, std::move(value));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<json::Value> DecodeKubernetesProtobuf(std::string_view body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic) return Malformed("the start (no \"k8s\\0\" prefix)");
  Reader unknown{body.substr(4)};
  std::string api_version, kind;
  std::string_view raw;
  bool have_raw = false;
  while (!unknown.done()) {
    uint64_t tag;
    if (!unknown.Varint(tag)) return Malformed("the envelope");
    int number = static_cast<int>(tag >> 3);
    std::string_view bytes;
    if ((tag & 7) != 2 || !unknown.Bytes(bytes)) return Malformed("the envelope");
    if (number == 1) {
      Reader type_meta{bytes};
      while (!type_meta.done()) {
        uint64_t t;
        std::string_view s;
        if (!type_meta.Varint(t) || (t & 7) != 2 || !type_meta.Bytes(s)) return Malformed("typeMeta");
        if ((t >> 3) == 1) api_version = std::string(s);
        if ((t >> 3) == 2) kind = std::string(s);
      }
    } else if (number == 2) {
      raw = bytes;
      have_raw = true;
    } else if (number == 3 && !bytes.empty()) {
      return absl::InvalidArgumentError(StrCat("protobuf content encoding \"", bytes, "\" is not supported"));
    }
  }
  if (!have_raw) return Malformed("the envelope (no object)");
  const Msg* msg = ForKind(api_version, kind);
  if (msg == nullptr) {
    return absl::InvalidArgumentError(StrCat("Berth decodes protobuf bodies for Namespace, ConfigMap, Secret, ServiceAccount, "
                                             "Deployment, Job and CronJob, not ", api_version, " ", kind,
                                             ": send it as JSON or YAML (kubectl: --dry-run=client -o yaml | kubectl apply -f -)"));
  }
  auto object = DecodeMessage(*msg, raw, "", 0);
  if (!object.ok()) return object.status();
  json::Value out = json::Value::MakeObject();
  out.Set("apiVersion", api_version);
  out.Set("kind", kind);
  for (auto& [k, v] : object->as_object()) out.Set(k, std::move(v));
  return out;
}

}  // namespace berth::apiserver::server
