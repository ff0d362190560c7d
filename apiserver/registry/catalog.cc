#include "apiserver/registry/catalog.h"

#include <algorithm>
#include <tuple>

#include "apiserver/registry/custom_resources.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

ResourceType T(std::string group, std::string kind, std::string plural, bool namespaced,
               std::vector<std::string> short_names, std::shared_ptr<const Strategy> strategy) {
  ResourceType t;
  t.group = std::move(group);
  t.version = "v1";
  t.kind = std::move(kind);
  t.plural = std::move(plural);
  std::string singular;
  for (char c : t.kind) singular.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  t.singular = singular;
  t.namespaced = namespaced;
  t.short_names = std::move(short_names);
  t.strategy = strategy ? std::move(strategy) : kinds::DefaultStrategy();
  return t;
}

}  // namespace

std::unique_ptr<Catalog> Catalog::Builtin() {
  using namespace kinds;
  auto owned = std::make_unique<Catalog>();
  Catalog& c = *owned;
  auto all = std::vector<std::string>{"all"};

  ResourceType ns = T("", "Namespace", "namespaces", false, {"ns"}, NamespaceStrategy());
  ns.has_status = true;
  ns.extra_subresources = {{"finalize", "", "v1", "Namespace", {"update"}}};
  ns.selectable_fields = {"status.phase"};
  c.Add(ns);

  ResourceType pod = T("", "Pod", "pods", true, {"po"}, PodStrategy());
  pod.categories = all;
  pod.has_status = true;
  pod.return_deleted_object = true;
  pod.extra_subresources = {{"binding", "", "v1", "Binding", {"create"}},
                            {"log", "", "v1", "Pod", {"get"}},
                            {"exec", "", "v1", "PodExecOptions", {"create", "get"}},
                            {"attach", "", "v1", "PodAttachOptions", {"create", "get"}},
                            {"portforward", "", "v1", "PodPortForwardOptions", {"create", "get"}},
                            {"eviction", "policy", "v1", "Eviction", {"create"}}};
  pod.selectable_fields = {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                           "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                           "status.podIP", "status.nominatedNodeName"};
  c.Add(pod);

  ResourceType node = T("", "Node", "nodes", false, {"no"}, NodeStrategy());
  node.has_status = true;
  node.selectable_fields = {"spec.unschedulable"};
  c.Add(node);

  c.Add(T("", "ConfigMap", "configmaps", true, {"cm"}, ConfigMapStrategy()));
  ResourceType secret = T("", "Secret", "secrets", true, {}, SecretStrategy());
  secret.selectable_fields = {"type"};
  c.Add(secret);
  ResourceType event = T("", "Event", "events", true, {"ev"}, nullptr);
  event.selectable_fields = {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                             "involvedObject.uid", "involvedObject.apiVersion",
                             "involvedObject.resourceVersion", "involvedObject.fieldPath",
                             "reason", "reportingComponent", "source", "type"};
  c.Add(event);
  ResourceType sa = T("", "ServiceAccount", "serviceaccounts", true, {"sa"}, nullptr);
  sa.extra_subresources = {{"token", "authentication.k8s.io", "v1", "TokenRequest", {"create"}}};
  c.Add(sa);
  c.Add(T("", "LimitRange", "limitranges", true, {"limits"}, LimitRangeStrategy()));
  ResourceType quota = T("", "ResourceQuota", "resourcequotas", true, {"quota"}, ResourceQuotaStrategy());
  quota.has_status = true;
  c.Add(quota);
  ResourceType service = T("", "Service", "services", true, {"svc"}, ServiceStrategy());
  service.categories = all;
  service.has_status = true;
  c.Add(service);
  c.Add(T("discovery.k8s.io", "EndpointSlice", "endpointslices", true, {}, EndpointSliceStrategy()));
  c.Add(T("rbac.authorization.k8s.io", "Role", "roles", true, {}, RbacRoleStrategy()));
  c.Add(T("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false, {}, RbacClusterRoleStrategy()));
  c.Add(T("rbac.authorization.k8s.io", "RoleBinding", "rolebindings", true, {}, RbacRoleBindingStrategy()));
  c.Add(T("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", false, {}, RbacClusterRoleBindingStrategy()));
  ResourceType csr = T("certificates.k8s.io", "CertificateSigningRequest", "certificatesigningrequests", false, {"csr"},
                       CertificateSigningRequestStrategy());
  csr.has_status = true;
  csr.extra_subresources = {{"approval", "certificates.k8s.io", "v1", "CertificateSigningRequest", {"get", "update"}}};
  c.Add(csr);
  c.Add(T("networking.k8s.io", "NetworkPolicy", "networkpolicies", true, {"netpol"}, NetworkPolicyStrategy()));

  // Access reviews and whoami: answered from the authorizer, never stored.
  for (auto [group, kind, plural, namespaced] :
       std::vector<std::tuple<const char*, const char*, const char*, bool>>{
           {"authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", false},
           {"authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", false},
           {"authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", false},
           {"authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews", true},
           {"authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", false},
           {"authentication.k8s.io", "TokenReview", "tokenreviews", false}}) {
    ResourceType review = T(group, kind, plural, namespaced, {}, nullptr);
    review.review = true;
    c.Add(review);
  }

  ResourceType deploy = T("apps", "Deployment", "deployments", true, {"deploy"}, DeploymentStrategy());
  deploy.categories = all;
  deploy.has_status = deploy.has_scale = true;
  c.Add(deploy);
  ResourceType rs = T("apps", "ReplicaSet", "replicasets", true, {"rs"}, ReplicaSetStrategy());
  rs.categories = all;
  rs.has_status = rs.has_scale = true;
  rs.selectable_fields = {"status.replicas"};
  c.Add(rs);
  ResourceType ds = T("apps", "DaemonSet", "daemonsets", true, {"ds"}, DaemonSetStrategy());
  ds.categories = all;
  ds.has_status = true;
  c.Add(ds);

  ResourceType job = T("batch", "Job", "jobs", true, {}, JobStrategy());
  job.categories = all;
  job.has_status = true;
  job.selectable_fields = {"status.successful"};
  c.Add(job);
  ResourceType cj = T("batch", "CronJob", "cronjobs", true, {"cj"}, CronJobStrategy());
  cj.categories = all;
  cj.has_status = true;
  c.Add(cj);

  c.Add(T("coordination.k8s.io", "Lease", "leases", true, {}, nullptr));
  c.Add(T("scheduling.k8s.io", "PriorityClass", "priorityclasses", false, {"pc"}, PriorityClassStrategy()));
  ResourceType queue = T("scheduling.berth.dev", "Queue", "queues", false, {}, QueueStrategy());
  queue.version = "v1alpha1";
  queue.has_status = true;
  c.Add(queue);
  ResourceType pdb = T("policy", "PodDisruptionBudget", "poddisruptionbudgets", true, {"pdb"}, PodDisruptionBudgetStrategy());
  pdb.has_status = true;
  c.Add(pdb);
  ResourceType crd = T("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", false, {"crd", "crds"},
                       CustomResourceDefinitionStrategy());
  crd.has_status = true;
  c.Add(crd);
  return owned;
}

const ResourceType* Catalog::Add(ResourceType type) {
  auto shared = std::make_shared<const ResourceType>(std::move(type));
  std::string path = StrCat(shared->group, "/", shared->version, "/", shared->plural);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = types_.begin(); it != types_.end(); ++it) {
    if (StrCat((*it)->group, "/", (*it)->version, "/", (*it)->plural) == path) {
      retired_.push_back(*it);
      types_.erase(it);
      break;
    }
  }
  by_path_[path] = shared.get();
  types_.push_back(shared);
  return shared.get();
}

void Catalog::Remove(std::string_view group, std::string_view version, std::string_view plural) {
  std::string path = StrCat(group, "/", version, "/", plural);
  std::lock_guard<std::mutex> lock(mu_);
  by_path_.erase(path);
  for (auto it = types_.begin(); it != types_.end(); ++it) {
    if (StrCat((*it)->group, "/", (*it)->version, "/", (*it)->plural) == path) {
      retired_.push_back(*it);
      types_.erase(it);
      return;
    }
  }
}

const ResourceType* Catalog::Find(std::string_view group, std::string_view version,
                                  std::string_view plural) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_path_.find(StrCat(group, "/", version, "/", plural));
  return it == by_path_.end() ? nullptr : it->second;
}

const ResourceType* Catalog::FindKind(std::string_view group, std::string_view kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& t : types_) {
    if (t->group == group && t->kind == kind) return t.get();
  }
  return nullptr;
}

std::vector<std::shared_ptr<const ResourceType>> Catalog::types() const {
  std::lock_guard<std::mutex> lock(mu_);
  return types_;
}

std::vector<std::pair<std::string, std::vector<std::string>>> Catalog::Groups() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& t : types()) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& g) { return g.first == t->group; });
    if (it == out.end()) {
      out.push_back({t->group, {t->version}});
    } else if (std::find(it->second.begin(), it->second.end(), t->version) == it->second.end()) {
      it->second.push_back(t->version);
    }
  }
  return out;
}

}  // namespace berth::apiserver::registry
