#include "apiserver/server/discovery.h"

#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

json::Value Strings(const std::vector<std::string>& v) {
  json::Value a = json::Value::MakeArray();
  for (const auto& s : v) a.as_array().push_back(s);
  return a;
}

const std::vector<std::string>& ResourceVerbs() {
  static const std::vector<std::string> v = {"create", "delete", "get", "list", "patch", "update", "watch"};
  return v;
}

json::Value GroupVersion(const std::string& group, const std::string& version) {
  json::Value gv = json::Value::MakeObject();
  gv.Set("groupVersion", group.empty() ? version : StrCat(group, "/", version));
  gv.Set("version", version);
  return gv;
}

}  // namespace

bool WantsAggregated(const std::string& accept) {
  return accept.find("as=APIGroupDiscoveryList") != std::string::npos &&
         accept.find("v=v2") != std::string::npos;
}

json::Value ApiVersions(const std::string& server_address) {
  json::Value v = json::Value::MakeObject();
  v.Set("kind", "APIVersions");
  v.Set("versions", Strings({"v1"}));
  json::Value cidr = json::Value::MakeObject();
  cidr.Set("clientCIDR", "0.0.0.0/0");
  cidr.Set("serverAddress", server_address);
  json::Value arr = json::Value::MakeArray();
  arr.as_array().push_back(std::move(cidr));
  v.Set("serverAddressByClientCIDRs", std::move(arr));
  return v;
}

json::Value ApiGroup(const registry::Catalog& catalog, const std::string& group) {
  for (const auto& [name, versions] : catalog.Groups()) {
    if (name != group || name.empty()) continue;
    json::Value g = json::Value::MakeObject();
    g.Set("kind", "APIGroup");
    g.Set("apiVersion", "v1");
    g.Set("name", name);
    json::Value vs = json::Value::MakeArray();
    for (const auto& v : versions) vs.as_array().push_back(GroupVersion(name, v));
    g.Set("versions", std::move(vs));
    g.Set("preferredVersion", GroupVersion(name, versions.front()));
    return g;
  }
  return json::Value();
}

json::Value ApiGroupList(const registry::Catalog& catalog) {
  json::Value list = json::Value::MakeObject();
  list.Set("kind", "APIGroupList");
  list.Set("apiVersion", "v1");
  json::Value groups = json::Value::MakeArray();
  for (const auto& [name, versions] : catalog.Groups()) {
    if (name.empty()) continue;
    json::Value g = ApiGroup(catalog, name);
    g.Erase("kind");
    g.Erase("apiVersion");
    groups.as_array().push_back(std::move(g));
  }
  list.Set("groups", std::move(groups));
  return list;
}

json::Value ApiResourceList(const registry::Catalog& catalog, const std::string& group,
                            const std::string& version) {
  json::Value resources = json::Value::MakeArray();
  bool found = false;
  for (const auto& t : catalog.types()) {
    if (t->group != group || t->version != version) continue;
    found = true;
    json::Value r = json::Value::MakeObject();
    r.Set("name", t->plural);
    r.Set("singularName", t->singular);
    r.Set("namespaced", t->namespaced);
    r.Set("kind", t->kind);
    r.Set("verbs", Strings(t->review ? std::vector<std::string>{"create"} : ResourceVerbs()));
    if (!t->short_names.empty()) r.Set("shortNames", Strings(t->short_names));
    if (!t->categories.empty()) r.Set("categories", Strings(t->categories));
    resources.as_array().push_back(std::move(r));
    for (const registry::SubresourceInfo& s : t->Subresources()) {
      json::Value sr = json::Value::MakeObject();
      sr.Set("name", StrCat(t->plural, "/", s.name));
      sr.Set("singularName", "");
      sr.Set("namespaced", t->namespaced);
      if (s.group != t->group || s.version != t->version) {
        sr.Set("group", s.group);
        sr.Set("version", s.version);
      }
      sr.Set("kind", s.kind);
      sr.Set("verbs", Strings(s.verbs));
      resources.as_array().push_back(std::move(sr));
    }
  }
  if (!found) return json::Value();
  json::Value list = json::Value::MakeObject();
  list.Set("kind", "APIResourceList");
  list.Set("apiVersion", "v1");
  list.Set("groupVersion", group.empty() ? version : StrCat(group, "/", version));
  list.Set("resources", std::move(resources));
  return list;
}

json::Value AggregatedDiscovery(const registry::Catalog& catalog, bool core) {
  json::Value items = json::Value::MakeArray();
  for (const auto& [name, versions] : catalog.Groups()) {
    if (name.empty() != core) continue;
    json::Value g = json::Value::MakeObject();
    g.Ensure({"metadata"}).Set("name", name);
    json::Value vs = json::Value::MakeArray();
    for (const auto& version : versions) {
      json::Value resources = json::Value::MakeArray();
      for (const auto& t : catalog.types()) {
        if (t->group != name || t->version != version) continue;
        json::Value r = json::Value::MakeObject();
        r.Set("resource", t->plural);
        r.Set("singularResource", t->singular);
        r.Set("scope", t->namespaced ? "Namespaced" : "Cluster");
        json::Value rk = json::Value::MakeObject();
        rk.Set("group", t->group);
        rk.Set("version", t->version);
        rk.Set("kind", t->kind);
        r.Set("responseKind", std::move(rk));
        r.Set("verbs", Strings(t->review ? std::vector<std::string>{"create"} : ResourceVerbs()));
        if (!t->short_names.empty()) r.Set("shortNames", Strings(t->short_names));
        if (!t->categories.empty()) r.Set("categories", Strings(t->categories));
        json::Value subs = json::Value::MakeArray();
        for (const registry::SubresourceInfo& s : t->Subresources()) {
          json::Value sr = json::Value::MakeObject();
          sr.Set("subresource", s.name);
          json::Value k = json::Value::MakeObject();
          k.Set("group", s.group);
          k.Set("version", s.version);
          k.Set("kind", s.kind);
          sr.Set("responseKind", std::move(k));
          sr.Set("verbs", Strings(s.verbs));
          subs.as_array().push_back(std::move(sr));
        }
        if (subs.size() > 0) r.Set("subresources", std::move(subs));
        resources.as_array().push_back(std::move(r));
      }
      json::Value v = json::Value::MakeObject();
      v.Set("version", version);
      v.Set("resources", std::move(resources));
      v.Set("freshness", "Current");
      vs.as_array().push_back(std::move(v));
    }
    g.Set("versions", std::move(vs));
    items.as_array().push_back(std::move(g));
  }
  json::Value list = json::Value::MakeObject();
  list.Set("kind", "APIGroupDiscoveryList");
  list.Set("apiVersion", "apidiscovery.k8s.io/v2");
  list.Set("metadata", json::Value::MakeObject());
  list.Set("items", std::move(items));
  return list;
}

}  // namespace berth::apiserver::server
