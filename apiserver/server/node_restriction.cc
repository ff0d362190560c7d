#include "apiserver/server/node_restriction.h"

#include <set>
#include <string>

#include "apiserver/auth/node/node_authorizer.h"
#include "apiserver/registry/resource_type.h"
#include "core/api/errors.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

using auth::node::NodeNameOf;

bool InDomain(std::string_view ns, std::string_view domain) {
  return ns == domain || (ns.size() > domain.size() && ns.ends_with(domain) && ns[ns.size() - domain.size() - 1] == '.');
}

// Kubernetes' kubelet labels (k8s.io/kubelet/pkg/apis/well_known_labels.go): the only
// kubernetes.io and k8s.io labels a node may set on itself.
bool IsKubeletLabel(const std::string& key) {
  static const std::set<std::string> kLabels = {
      "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os",
      "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
      "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
      "topology.kubernetes.io/zone", "topology.kubernetes.io/region"};
  if (kLabels.contains(key)) return true;
  const std::string_view ns = std::string_view(key).substr(0, key.find('/'));
  return key.find('/') != std::string::npos && (InDomain(ns, "kubelet.kubernetes.io") || InDomain(ns, "node.kubernetes.io"));
}

bool IsForbiddenLabel(const std::string& key) {
  if (key.find('/') == std::string::npos) return false;
  const std::string_view ns = std::string_view(key).substr(0, key.find('/'));
  if (InDomain(ns, "node-restriction.kubernetes.io")) return true;
  return (InDomain(ns, "kubernetes.io") || InDomain(ns, "k8s.io")) && !IsKubeletLabel(key);
}

std::string Joined(const std::set<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

std::map<std::string, std::string> LabelsOf(const json::Value* object) {
  std::map<std::string, std::string> labels;
  const json::Value* l = object == nullptr ? nullptr : object->Get({"metadata", "labels"});
  if (l == nullptr || !l->is_object()) return labels;
  for (const auto& [k, v] : l->as_object()) labels[k] = v.is_string() ? v.as_string() : "";
  return labels;
}

absl::Status AdmitNode(const std::string& node, const registry::AdmissionAttributes& attrs, const json::Value& object) {
  const std::string name = object.GetString({"metadata", "name"});
  const api::Target target{"", "nodes", name, ""};
  if (name != node) return api::Forbidden(target, StrCat("node \"", node, "\" is not allowed to modify node \"", name, "\""));
  const std::map<std::string, std::string> labels = LabelsOf(&object);
  std::set<std::string> forbidden;
  if (attrs.operation == registry::AdmissionOperation::kCreate) {
    for (const auto& [k, v] : labels) {
      if (IsForbiddenLabel(k)) forbidden.insert(k);
    }
    if (!forbidden.empty()) {
      return api::Forbidden(target, StrCat("node \"", node, "\" is not allowed to set the following labels: ", Joined(forbidden)));
    }
    return absl::OkStatus();
  }
  // A node that could change its own taints could steer workloads it should not get to itself.
  const json::Value* old_taints = attrs.old == nullptr ? nullptr : attrs.old->Get({"spec", "taints"});
  const json::Value* new_taints = object.Get({"spec", "taints"});
  auto empty = [](const json::Value* t) { return t == nullptr || t->is_null() || (t->is_array() && t->size() == 0); };
  if (!(empty(old_taints) && empty(new_taints)) && (old_taints == nullptr || new_taints == nullptr || !(*old_taints == *new_taints))) {
    return api::Forbidden(target, StrCat("node \"", node, "\" is not allowed to modify taints"));
  }
  const std::map<std::string, std::string> old_labels = LabelsOf(attrs.old);
  for (const auto& [k, v] : labels) {
    auto o = old_labels.find(k);
    if ((o == old_labels.end() || o->second != v) && IsForbiddenLabel(k)) forbidden.insert(k);
  }
  for (const auto& [k, v] : old_labels) {
    if (!labels.contains(k) && IsForbiddenLabel(k)) forbidden.insert(k);
  }
  if (!forbidden.empty()) {
    return api::Forbidden(target, StrCat("node \"", node, "\" is not allowed to modify labels: ", Joined(forbidden)));
  }
  return absl::OkStatus();
}

// Only mirror pods of the node's own static pods, which may use nothing the node could not
// read without them: otherwise creating a pod would be a way to reach any Secret.
absl::Status AdmitPodCreate(const std::string& node, const json::Value& pod) {
  const api::Target target{"", "pods", pod.GetString({"metadata", "name"}), ""};
  if (pod.Get({"metadata", "annotations", "kubernetes.io/config.mirror"}) == nullptr) {
    return api::Forbidden(target, StrCat("pod does not have \"kubernetes.io/config.mirror\" annotation, node \"", node,
                                         "\" can only create mirror pods"));
  }
  if (pod.GetString({"spec", "nodeName"}) != node) {
    return api::Forbidden(target, StrCat("node \"", node, "\" can only create pods with spec.nodeName set to itself"));
  }
  for (const auto& [kind, ns, name] : auth::node::NodeGraph::RefsOf(pod)) {
    const char* what = kind == auth::node::RefKind::kSecret        ? "secrets"
                       : kind == auth::node::RefKind::kConfigMap   ? "configmaps"
                       : kind == auth::node::RefKind::kClaim       ? "persistentvolumeclaims"
                                                                   : "serviceaccounts";
    return api::Forbidden(target, StrCat("node \"", node, "\" can not create pods that reference ", what));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status NodeRestriction::Validate(const registry::AdmissionAttributes& attrs, const json::Value& object) const {
  if (attrs.user == nullptr) return absl::OkStatus();
  const std::string node = NodeNameOf(*attrs.user);
  if (node.empty()) return absl::OkStatus();
  const registry::ResourceType& type = attrs.type;
  if (type.group.empty() && type.plural == "nodes") return AdmitNode(node, attrs, object);
  if (type.group.empty() && type.plural == "pods" && attrs.operation == registry::AdmissionOperation::kCreate) {
    return AdmitPodCreate(node, object);
  }
  if (type.group == "coordination.k8s.io" && type.plural == "leases" &&
      object.GetString({"metadata", "namespace"}) == auth::node::kNodeLeaseNamespace &&
      object.GetString({"metadata", "name"}) != node) {
    return api::Forbidden(api::Target{type.group, "leases", object.GetString({"metadata", "name"}), ""},
                          "can only access node lease with the same name as the requesting node");
  }
  return absl::OkStatus();
}

absl::Status NodeRestriction::CheckRequest(const auth::Attributes& a) const {
  const std::string node = NodeNameOf(a.user);
  if (node.empty() || !a.resource_request || !a.api_group.empty() || a.name.empty()) return absl::OkStatus();
  const bool writes = a.verb != "get" && a.verb != "list" && a.verb != "watch";
  if (!writes) return absl::OkStatus();
  if (a.resource == "nodes" && a.name != node) {
    return api::Forbidden(api::Target{"", "nodes", a.name, ""},
                          StrCat("node \"", node, "\" is not allowed to modify node \"", a.name, "\""));
  }
  if (a.resource != "pods") return absl::OkStatus();
  std::string why;
  if (a.subresource == "status") {
    why = "can only update pod status for pods with spec.nodeName set to itself";
  } else if (a.subresource == "eviction") {
    why = "can only evict pods with spec.nodeName set to itself";
  } else if (a.subresource.empty() && a.verb == "delete") {
    why = "can only delete pods with spec.nodeName set to itself";
  } else {
    return absl::OkStatus();
  }
  // An unknown pod is left to the handler, which answers 404.
  std::optional<std::string> bound = graph_->PodNode(a.ns, a.name);
  if (!bound.has_value() || *bound == node) return absl::OkStatus();
  return api::Forbidden(api::Target{"", "pods", a.name, ""}, StrCat("node \"", node, "\" ", why));
}

}  // namespace berth::apiserver::server
