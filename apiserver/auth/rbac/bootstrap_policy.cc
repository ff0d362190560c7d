#include "apiserver/auth/rbac/bootstrap_policy.h"

#include <string>

namespace berth::apiserver::auth::rbac {
namespace {

using Strings = std::vector<std::string>;

const Strings kRead = {"get", "list", "watch"};
const Strings kWrite = {"create", "delete", "deletecollection", "patch", "update"};

json::Value Array(const Strings& items) {
  json::Value a = json::Value::MakeArray();
  for (const std::string& s : items) a.as_array().push_back(json::Value(s));
  return a;
}

json::Value Rule(const Strings& verbs, const Strings& groups, const Strings& resources) {
  json::Value r = json::Value::MakeObject();
  r.Set("verbs", Array(verbs));
  r.Set("apiGroups", Array(groups));
  r.Set("resources", Array(resources));
  return r;
}

json::Value UrlRule(const Strings& verbs, const Strings& urls) {
  json::Value r = json::Value::MakeObject();
  r.Set("verbs", Array(verbs));
  r.Set("nonResourceURLs", Array(urls));
  return r;
}

std::string AggregateLabel(const std::string& role) { return "rbac.authorization.k8s.io/aggregate-to-" + role; }

json::Value Object(const std::string& kind, const std::string& name) {
  json::Value o = json::Value::MakeObject();
  o.Set("apiVersion", "rbac.authorization.k8s.io/v1");
  o.Set("kind", kind);
  json::Value& meta = o.Ensure({"metadata"});
  meta.Set("name", name);
  meta.Ensure({"labels"}).Set("kubernetes.io/bootstrapping", "rbac-defaults");
  meta.Ensure({"annotations"}).Set("rbac.authorization.kubernetes.io/autoupdate", "true");
  return o;
}

json::Value ClusterRole(const std::string& name, std::vector<json::Value> rules, const std::string& aggregate_to = "") {
  json::Value o = Object("ClusterRole", name);
  o.Set("rules", json::Value(json::Array(std::move(rules))));
  if (!aggregate_to.empty()) o.Ensure({"metadata", "labels"}).Set(AggregateLabel(aggregate_to), "true");
  return o;
}

// admin, edit and view hold whatever is labelled aggregate-to-<role>; edit is itself labelled
// aggregate-to-admin and view aggregate-to-edit, so each includes the next.
json::Value AggregatedRole(const std::string& name, const std::string& aggregate_to) {
  json::Value o = Object("ClusterRole", name);
  json::Value sel = json::Value::MakeObject();
  sel.Ensure({"matchLabels"}).Set(AggregateLabel(name), "true");
  json::Value sels = json::Value::MakeArray();
  sels.as_array().push_back(std::move(sel));
  o.Ensure({"aggregationRule"}).Set("clusterRoleSelectors", std::move(sels));
  o.Set("rules", json::Value::MakeArray());
  if (!aggregate_to.empty()) o.Ensure({"metadata", "labels"}).Set(AggregateLabel(aggregate_to), "true");
  return o;
}

json::Value Binding(const std::string& name, const std::string& role, const std::vector<std::pair<std::string, std::string>>& subjects) {
  json::Value o = Object("ClusterRoleBinding", name);
  json::Value& ref = o.Ensure({"roleRef"});
  ref.Set("apiGroup", "rbac.authorization.k8s.io");
  ref.Set("kind", "ClusterRole");
  ref.Set("name", role);
  json::Value list = json::Value::MakeArray();
  for (const auto& [kind, subject] : subjects) {
    json::Value s = json::Value::MakeObject();
    s.Set("apiGroup", "rbac.authorization.k8s.io");
    s.Set("kind", kind);
    s.Set("name", subject);
    list.as_array().push_back(std::move(s));
  }
  o.Set("subjects", std::move(list));
  return o;
}

// `verb` (approve, sign) on the named signers of certificates.k8s.io, as upstream's
// certificate-controller role holds it for the signers its controllers serve.
json::Value SignerRule(const std::string& verb, const std::vector<std::string>& signers) {
  json::Value rule = Rule({verb}, {"certificates.k8s.io"}, {"signers"});
  json::Value names = json::Value::MakeArray();
  for (const std::string& s : signers) names.as_array().push_back(json::Value(s));
  rule.Set("resourceNames", std::move(names));
  return rule;
}

}  // namespace

// Kubernetes' NodeRules, plus what Berth's agent reads for the pod network (services,
// endpointslices, networkpolicies, namespaces: kube-proxy's and a network policy agent's reads).
std::vector<json::Value> NodeRules() {
  return {Rule({"create", "get", "list", "watch"}, {""}, {"nodes"}),
          Rule({"patch", "update"}, {""}, {"nodes/status"}),
          Rule({"patch", "update"}, {""}, {"nodes"}),
          Rule({"create", "patch", "update"}, {"", "events.k8s.io"}, {"events"}),
          Rule(kRead, {""}, {"pods"}),
          Rule({"create", "delete"}, {""}, {"pods"}),
          Rule({"patch", "update"}, {""}, {"pods/status"}),
          Rule({"create"}, {""}, {"pods/eviction"}),
          Rule({"get"}, {""}, {"configmaps", "secrets", "persistentvolumeclaims", "persistentvolumes"}),
          Rule(kRead, {""}, {"services", "endpoints", "namespaces"}),
          Rule(kRead, {"discovery.k8s.io"}, {"endpointslices"}),
          Rule(kRead, {"networking.k8s.io"}, {"networkpolicies"}),
          Rule({"create"}, {""}, {"serviceaccounts/token"}),
          Rule({"get", "create", "update", "patch", "delete"}, {"coordination.k8s.io"}, {"leases"}),
          Rule({"create", "get", "list", "watch"}, {"certificates.k8s.io"}, {"certificatesigningrequests"}),
          Rule({"get"}, {"storage.k8s.io"}, {"volumeattachments"}),
          Rule(kRead, {"node.k8s.io"}, {"runtimeclasses"}),
          // The agent asks the apiserver who may use its own port (non-mutating creates).
          Rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
          Rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews", "localsubjectaccessreviews"})};
}

std::vector<json::Value> BootstrapClusterRoles() {
  std::vector<json::Value> roles;
  roles.push_back(ClusterRole("cluster-admin", {Rule({"*"}, {"*"}, {"*"}), UrlRule({"*"}, {"*"})}));
  roles.push_back(ClusterRole("system:discovery", {UrlRule({"get"}, {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                                                     "/openapi", "/openapi/*", "/readyz", "/version", "/version/"})}));
  roles.push_back(ClusterRole("system:public-info-viewer",
                              {UrlRule({"get"}, {"/healthz", "/livez", "/readyz", "/version", "/version/"})}));
  roles.push_back(ClusterRole("system:basic-user",
                              {Rule({"create"}, {"authorization.k8s.io"}, {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
                               Rule({"create"}, {"authentication.k8s.io"}, {"selfsubjectreviews"})}));
  roles.push_back(AggregatedRole("admin", ""));
  roles.push_back(AggregatedRole("edit", "admin"));
  roles.push_back(AggregatedRole("view", "edit"));
  roles.push_back(ClusterRole(
      "system:aggregate-to-admin",
      {Rule({"create"}, {"authorization.k8s.io"}, {"localsubjectaccessreviews"}),
       Rule({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}, {"rbac.authorization.k8s.io"},
            {"rolebindings", "roles"})},
      "admin"));
  roles.push_back(ClusterRole(
      "system:aggregate-to-edit",
      {Rule(kRead, {""}, {"pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"}),
       Rule({"impersonate"}, {""}, {"serviceaccounts"}),
       Rule(kWrite, {""}, {"pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"}),
       Rule({"create"}, {""}, {"pods/eviction"}),
       Rule(kWrite, {""}, {"configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                           "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"}),
       Rule({"create"}, {""}, {"serviceaccounts/token"}),
       Rule(kWrite, {"apps"}, {"daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                               "replicasets/scale", "statefulsets", "statefulsets/scale"}),
       Rule(kWrite, {"autoscaling"}, {"horizontalpodautoscalers"}),
       Rule(kWrite, {"batch"}, {"cronjobs", "jobs"}),
       Rule(kWrite, {"networking.k8s.io"}, {"ingresses", "networkpolicies"}),
       Rule(kWrite, {"policy"}, {"poddisruptionbudgets"}),
       Rule(kWrite, {"discovery.k8s.io"}, {"endpointslices"})},
      "edit"));
  roles.push_back(ClusterRole(
      "system:aggregate-to-view",
      {Rule(kRead, {""}, {"configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                          "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                          "services/status"}),
       Rule(kRead, {""}, {"bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                          "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"}),
       Rule(kRead, {""}, {"namespaces"}),
       Rule(kRead, {"discovery.k8s.io"}, {"endpointslices"}),
       Rule(kRead, {"apps"}, {"controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                              "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                              "statefulsets/scale", "statefulsets/status"}),
       Rule(kRead, {"autoscaling"}, {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}),
       Rule(kRead, {"batch"}, {"cronjobs", "cronjobs/status", "jobs", "jobs/status"}),
       Rule(kRead, {"policy"}, {"poddisruptionbudgets", "poddisruptionbudgets/status"}),
       Rule(kRead, {"networking.k8s.io"}, {"ingresses", "ingresses/status", "networkpolicies"})},
      "view"));
  roles.push_back(ClusterRole("system:node", NodeRules()));
  // TLS bootstrap (upstream's roles): a joining node's bootstrap token creates and reads its
  // CertificateSigningRequest; the nodeclient/selfnodeclient subresources are what the approver's
  // SubjectAccessReview asks about.
  roles.push_back(ClusterRole("system:node-bootstrapper",
                              {Rule({"create", "get", "list", "watch"}, {"certificates.k8s.io"}, {"certificatesigningrequests"})}));
  roles.push_back(ClusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                              {Rule({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/nodeclient"})}));
  roles.push_back(ClusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                              {Rule({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/selfnodeclient"})}));
  {
    // A joining node reads the client CA its own port must trust (and nothing else of kube-system).
    json::Value reader = Rule({"get"}, {""}, {"configmaps"});
    reader.Set("resourceNames", json::Value(json::Array{json::Value("extension-apiserver-authentication")}));
    roles.push_back(ClusterRole("berth:extension-apiserver-authentication-reader", {std::move(reader)}));
  }
  // Full use of the agents' own API (exec, attach, port-forward, logs): the apiserver's identity
  // towards them holds it.
  roles.push_back(ClusterRole("system:kubelet-api-admin",
                              {Rule(kRead, {""}, {"nodes"}), Rule({"proxy"}, {""}, {"nodes"}),
                               Rule({"*"}, {""}, {"nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"})}));
  // Berth's controller-manager is one process with one identity for every controller and the
  // scheduler (a CIS 1.3.3 deviation, as in k3s). Its rules are the union of what Kubernetes'
  // controller roles grant: the garbage collector and the namespace controller read, patch and
  // delete any kind; the others create what they own.
  roles.push_back(ClusterRole(
      "system:kube-controller-manager",
      {Rule({"get", "list", "watch", "patch", "update", "delete", "deletecollection"}, {"*"}, {"*"}),
       Rule({"create"}, {""},
            {"pods", "pods/binding", "pods/eviction", "events", "endpoints", "serviceaccounts", "configmaps",
             "persistentvolumeclaims", "services"}),
       Rule({"create"}, {"events.k8s.io"}, {"events"}),
       Rule({"create"}, {"apps"}, {"replicasets", "controllerrevisions"}),
       Rule({"create"}, {"batch"}, {"jobs"}),
       Rule({"create"}, {"discovery.k8s.io"}, {"endpointslices"}),
       Rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
       Rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
       Rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
       SignerRule("approve", {"kubernetes.io/kube-apiserver-client-kubelet"}),
       SignerRule("sign", {"kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kube-apiserver-client"})}));
  return roles;
}

std::vector<json::Value> BootstrapClusterRoleBindings() {
  std::vector<json::Value> bindings;
  bindings.push_back(Binding("cluster-admin", "cluster-admin", {{"Group", "system:masters"}}));
  bindings.push_back(Binding("system:discovery", "system:discovery", {{"Group", "system:authenticated"}}));
  bindings.push_back(Binding("system:basic-user", "system:basic-user", {{"Group", "system:authenticated"}}));
  bindings.push_back(Binding("system:public-info-viewer", "system:public-info-viewer",
                             {{"Group", "system:authenticated"}, {"Group", "system:unauthenticated"}}));
  // Berth's join tokens carry this group (berth token create), as kubeadm's carry
  // system:bootstrappers:kubeadm:default-node-token.
  bindings.push_back(Binding("berth:kubelet-bootstrap", "system:node-bootstrapper", {{"Group", kJoinTokenGroup}}));
  bindings.push_back(Binding("berth:node-autoapprove-bootstrap",
                             "system:certificates.k8s.io:certificatesigningrequests:nodeclient", {{"Group", kJoinTokenGroup}}));
  bindings.push_back(Binding("berth:node-autoapprove-certificate-rotation",
                             "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", {{"Group", "system:nodes"}}));
  bindings.push_back(Binding("berth:join-reads-client-ca", "berth:extension-apiserver-authentication-reader",
                             {{"Group", kJoinTokenGroup}}));
  bindings.push_back(Binding("system:kube-apiserver-kubelet-api-admin", "system:kubelet-api-admin",
                             {{"User", "system:kube-apiserver"}}));
  bindings.push_back(Binding("system:kube-controller-manager", "system:kube-controller-manager",
                             {{"User", "system:kube-controller-manager"}}));
  // system:node stays unbound, as in Kubernetes: nodes get its rules through the Node
  // authorizer, which confines each node to its own objects.
  return bindings;
}

}  // namespace berth::apiserver::auth::rbac
