#include "apiserver/server/openapi.h"

#include <algorithm>

#include <functional>

#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

std::string GvPath(const std::string& group, const std::string& version) {
  return group.empty() ? StrCat("api/", version) : StrCat("apis/", group, "/", version);
}

// Rewrites "#/definitions/X" references to `prefix` + X, recursively.
json::Value RewriteRefs(const json::Value& v, const std::string& prefix, int depth = 0) {
  if (depth > 100) return v;
  if (v.is_object()) {
    json::Value out = json::Value::MakeObject();
    for (const auto& [k, e] : v.as_object()) {
      if (k == "$ref" && e.is_string() && e.as_string().rfind("#/definitions/", 0) == 0) {
        out.Set(k, prefix + e.as_string().substr(14));
      } else if (k == "x-berth-gvk") {
        continue;
      } else {
        out.Set(k, RewriteRefs(e, prefix, depth + 1));
      }
    }
    return out;
  }
  if (v.is_array()) {
    json::Value out = json::Value::MakeArray();
    for (const auto& e : v.as_array()) out.as_array().push_back(RewriteRefs(e, prefix, depth + 1));
    return out;
  }
  return v;
}

json::Value Gvk(const registry::ResourceType& t) {
  json::Value g = json::Value::MakeObject();
  g.Set("group", t.group);
  g.Set("version", t.version);
  g.Set("kind", t.kind);
  return g;
}

json::Value Components(const registry::Catalog& catalog, const schema::SchemaSet& schemas,
                       const std::string& prefix, const std::function<bool(const registry::ResourceType&)>& include) {
  json::Value comps = json::Value::MakeObject();
  for (const auto& [name, def] : schemas.definitions().as_object()) comps.Set(name, RewriteRefs(def, prefix));
  for (const auto& t : catalog.types()) {
    if (!include(*t)) continue;
    const json::Value* s = schemas.ForKind(t->group, t->version, t->kind);
    json::Value schema = s ? RewriteRefs(*s, prefix) : json::Value::MakeObject();
    if (!s) {
      schema.Set("type", "object");
      schema.Set("x-kubernetes-preserve-unknown-fields", true);
    }
    json::Value gvks = json::Value::MakeArray();
    gvks.as_array().push_back(Gvk(*t));
    schema.Set("x-kubernetes-group-version-kind", std::move(gvks));
    comps.Set(ComponentName(t->group, t->version, t->kind), std::move(schema));
  }
  return comps;
}

}  // namespace

std::string ComponentName(const std::string& group, const std::string& version, const std::string& kind) {
  std::string g = group.empty() ? "core" : group.substr(0, group.find('.'));
  return StrCat("io.k8s.api.", g, ".", version, ".", kind);
}

json::Value OpenApiV3Root(const registry::Catalog& catalog) {
  json::Value paths = json::Value::MakeObject();
  for (const auto& [group, versions] : catalog.Groups()) {
    for (const auto& v : versions) {
      std::string p = GvPath(group, v);
      json::Value entry = json::Value::MakeObject();
      entry.Set("serverRelativeURL", StrCat("/openapi/v3/", p, "?hash=", std::hash<std::string>{}(p + "1")));
      paths.Set(p, std::move(entry));
    }
  }
  json::Value root = json::Value::MakeObject();
  root.Set("paths", std::move(paths));
  return root;
}

json::Value OpenApiV3Document(const registry::Catalog& catalog, const schema::SchemaSet& schemas,
                              const std::string& gv_path) {
  json::Value paths = json::Value::MakeObject();
  bool found = false;
  auto in_gv = [&](const registry::ResourceType& t) { return GvPath(t.group, t.version) == gv_path; };
  for (const auto& t : catalog.types()) {
    if (!in_gv(*t)) continue;
    found = true;
    std::string base = StrCat("/", gv_path, t->namespaced ? "/namespaces/{namespace}/" : "/", t->plural, "/{name}");
    json::Value op = json::Value::MakeObject();
    op.Set("x-kubernetes-group-version-kind", Gvk(*t));
    op.Set("operationId", StrCat("patch", t->kind));
    json::Value params = json::Value::MakeArray();
    for (const char* p : {"fieldValidation", "fieldManager", "dryRun", "force"}) {
      json::Value param = json::Value::MakeObject();
      param.Set("name", p);
      param.Set("in", "query");
      param.Ensure({"schema"}).Set("type", std::string(p) == "force" ? "boolean" : "string");
      params.as_array().push_back(std::move(param));
    }
    op.Set("parameters", std::move(params));
    json::Value ref = json::Value::MakeObject();
    ref.Set("$ref", StrCat("#/components/schemas/", ComponentName(t->group, t->version, t->kind)));
    json::Value content = json::Value::MakeObject();
    // No strategic-merge content type: kubectl then takes patch metadata from its compiled-in
    // types, which carry the real merge keys.
    for (const char* ct : {"application/merge-patch+json", "application/json-patch+json", "application/apply-patch+yaml"}) {
      content.Ensure({ct}).Set("schema", json::Value::MakeObject()).Set("type", "object");
    }
    op.Ensure({"requestBody"}).Set("content", std::move(content));
    json::Value ok = json::Value::MakeObject();
    ok.Set("description", "OK");
    ok.Ensure({"content", "application/json"}).Set("schema", ref);
    op.Ensure({"responses"}).Set("200", std::move(ok));
    json::Value item = json::Value::MakeObject();
    item.Set("patch", op);
    json::Value get = op;
    get.Set("operationId", StrCat("read", t->kind));
    get.Erase("requestBody");
    get.Set("parameters", json::Value::MakeArray());
    item.Set("get", get);
    paths.Set(base, std::move(item));
    // Subresources, from the same catalog list discovery and routing read.
    // Those that take patches (status, scale) are what clients validate against a schema.
    for (const registry::SubresourceInfo& sub : t->Subresources()) {
      if (std::find(sub.verbs.begin(), sub.verbs.end(), "patch") == sub.verbs.end()) continue;
      json::Value sub_item = json::Value::MakeObject();
      bool same_kind = sub.kind == t->kind && sub.group == t->group;
      auto shaped = [&](json::Value operation, const std::string& verb) {
        operation.Set("operationId", StrCat(verb, t->kind, sub.name == "status" ? "Status" : StrCat("_", sub.name)));
        json::Value gvk = json::Value::MakeObject();
        gvk.Set("group", sub.group);
        gvk.Set("version", sub.version);
        gvk.Set("kind", sub.kind);
        operation.Set("x-kubernetes-group-version-kind", std::move(gvk));
        if (!same_kind) {
          operation.Ensure({"responses", "200", "content", "application/json"}).Set("schema", json::Value::MakeObject());
        }
        return operation;
      };
      for (const std::string& verb : sub.verbs) {
        if (verb == "get") sub_item.Set("get", shaped(get, "read"));
        if (verb == "patch") sub_item.Set("patch", shaped(op, "patch"));
      }
      if (sub_item.size() > 0) paths.Set(StrCat(base, "/", sub.name), std::move(sub_item));
    }
  }
  if (!found) return json::Value();
  json::Value doc = json::Value::MakeObject();
  doc.Set("openapi", "3.0.0");
  json::Value info = json::Value::MakeObject();
  info.Set("title", "Kubernetes");
  info.Set("version", "v1.32.4");
  doc.Set("info", std::move(info));
  doc.Set("paths", std::move(paths));
  doc.Ensure({"components"}).Set("schemas", Components(catalog, schemas, "#/components/schemas/", in_gv));
  return doc;
}

json::Value OpenApiV2Document(const registry::Catalog& catalog, const schema::SchemaSet& schemas) {
  json::Value doc = json::Value::MakeObject();
  doc.Set("swagger", "2.0");
  json::Value info = json::Value::MakeObject();
  info.Set("title", "Kubernetes");
  info.Set("version", "v1.32.4");
  doc.Set("info", std::move(info));
  doc.Set("paths", json::Value::MakeObject());
  doc.Set("definitions", Components(catalog, schemas, "#/definitions/", [](const auto&) { return true; }));
  return doc;
}

}  // namespace berth::apiserver::server
