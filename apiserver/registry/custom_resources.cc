#include "apiserver/registry/custom_resources.h"

#include "apiserver/registry/kinds/strategies.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"

namespace berth::apiserver::registry {
namespace {

class CrdStrategy final : public Strategy {
 public:
  void Default(json::Value& crd) const override {
    json::Value& names = crd.Ensure({"spec", "names"});
    if (names.is_object() && names.GetString({"singular"}).empty()) {
      std::string kind = names.GetString({"kind"});
      std::string singular;
      for (char c : kind) singular.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      names.Set("singular", singular);
    }
    if (names.is_object() && names.GetString({"listKind"}).empty()) names.Set("listKind", names.GetString({"kind"}) + "List");
  }

  void PrepareForCreate(json::Value& crd) const override {
    // Established at once: names are accepted unless they collide, which Validate refuses.
    json::Value status = json::Value::MakeObject();
    status.Set("acceptedNames", crd.Get({"spec", "names"}) ? *crd.Get({"spec", "names"}) : json::Value::MakeObject());
    json::Value conds = json::Value::MakeArray();
    for (const char* type : {"NamesAccepted", "Established"}) {
      json::Value c = json::Value::MakeObject();
      c.Set("type", type);
      c.Set("status", "True");
      c.Set("reason", std::string(type) == "Established" ? "InitialNamesAccepted" : "NoConflicts");
      c.Set("message", std::string(type) == "Established" ? "the initial names have been accepted" : "no conflicts found");
      c.Set("lastTransitionTime", FormatRfc3339(RealClock::Get().Now()));
      conds.as_array().push_back(std::move(c));
    }
    status.Set("conditions", std::move(conds));
    json::Value stored = json::Value::MakeArray();
    if (const json::Value* vs = crd.Get({"spec", "versions"}); vs && vs->is_array()) {
      for (const json::Value& v : vs->as_array()) {
        const json::Value* st = v.Find("storage");
        if (st && st->is_bool() && st->as_bool()) stored.as_array().push_back(v.GetString({"name"}));
      }
    }
    status.Set("storedVersions", std::move(stored));
    crd.Set("status", std::move(status));
    // Deleting the CRD first deletes its objects; this finalizer holds it until then.
    json::Value& fins = crd.Ensure({"metadata", "finalizers"});
    if (!fins.is_array()) fins = json::Value::MakeArray();
    fins.as_array().push_back(kCrdCleanupFinalizer);
  }

  std::vector<api::Cause> Validate(const json::Value& crd) const override {
    std::vector<api::Cause> causes;
    std::string group = crd.GetString({"spec", "group"});
    std::string plural = crd.GetString({"spec", "names", "plural"});
    if (crd.GetString({"metadata", "name"}) != plural + "." + group) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", crd.GetString({"metadata", "name"}),
                                                    "\": must be spec.names.plural+\".\"+spec.group"),
                        "metadata.name"});
    }
    if (group.find('.') == std::string::npos) {
      causes.push_back({"FieldValueInvalid", "Invalid value: should be a domain with at least one dot", "spec.group"});
    }
    int storage = 0;
    if (const json::Value* vs = crd.Get({"spec", "versions"}); vs && vs->is_array()) {
      for (const json::Value& v : vs->as_array()) {
        const json::Value* st = v.Find("storage");
        if (st && st->is_bool() && st->as_bool()) storage++;
      }
    }
    if (storage != 1) {
      causes.push_back({"FieldValueInvalid", "Invalid value: must have exactly one version marked as storage version",
                        "spec.versions"});
    }
    return causes;
  }

  std::vector<api::Cause> ValidateUpdate(const json::Value& crd, const json::Value& old) const override {
    std::vector<api::Cause> causes;
    for (const char* f : {"group", "scope"}) {
      if (crd.GetString({"spec", f}) != old.GetString({"spec", f})) {
        causes.push_back({"FieldValueInvalid", "Invalid value: field is immutable", StrCat("spec.", f)});
      }
    }
    return causes;
  }
};

const json::Value* SchemaProperty(const json::Value& schema, const std::string& key) {
  const json::Value* props = schema.Find("properties");
  return props ? props->Find(key) : nullptr;
}

bool Preserves(const json::Value& schema) {
  const json::Value* p = schema.Find("x-kubernetes-preserve-unknown-fields");
  return p && p->is_bool() && p->as_bool();
}

void Prune(const json::Value& schema, json::Value& v, const std::string& path, bool root,
           std::vector<std::string>& dropped, int depth) {
  if (depth > 64) return;
  if (v.is_array()) {
    if (const json::Value* items = schema.Find("items")) {
      for (json::Value& e : v.as_array()) Prune(*items, e, path + "[]", false, dropped, depth + 1);
    }
    return;
  }
  if (!v.is_object()) return;
  const json::Value* additional = schema.Find("additionalProperties");
  bool open = Preserves(schema) || (additional && additional->is_bool() && additional->as_bool());
  auto& members = v.as_object();
  for (auto it = members.begin(); it != members.end();) {
    const std::string& key = it->first;
    std::string child = path.empty() ? key : path + "." + key;
    if (root && (key == "apiVersion" || key == "kind" || key == "metadata")) {
      ++it;
      continue;
    }
    const json::Value* prop = SchemaProperty(schema, key);
    if (prop == nullptr && additional && additional->is_object()) prop = additional;
    if (prop != nullptr) {
      Prune(*prop, it->second, child, false, dropped, depth + 1);
      ++it;
    } else if (open) {
      ++it;
    } else {
      dropped.push_back(child);
      it = members.erase(it);
    }
  }
}

}  // namespace

std::shared_ptr<const Strategy> CustomResourceDefinitionStrategy() {
  static auto* s = new std::shared_ptr<const Strategy>(std::make_shared<CrdStrategy>());
  return *s;
}

std::vector<ResourceType> TypesFromCrd(const json::Value& crd) {
  std::vector<ResourceType> out;
  const json::Value* versions = crd.Get({"spec", "versions"});
  if (versions == nullptr || !versions->is_array()) return out;
  for (const json::Value& v : versions->as_array()) {
    const json::Value* served = v.Find("served");
    if (!(served && served->is_bool() && served->as_bool())) continue;
    ResourceType t;
    t.group = crd.GetString({"spec", "group"});
    t.version = v.GetString({"name"});
    t.kind = crd.GetString({"spec", "names", "kind"});
    t.plural = crd.GetString({"spec", "names", "plural"});
    t.singular = crd.GetString({"spec", "names", "singular"});
    t.namespaced = crd.GetString({"spec", "scope"}, "Namespaced") != "Cluster";
    if (const json::Value* sn = crd.Get({"spec", "names", "shortNames"}); sn && sn->is_array()) {
      for (const json::Value& n : sn->as_array()) if (n.is_string()) t.short_names.push_back(n.as_string());
    }
    if (const json::Value* cats = crd.Get({"spec", "names", "categories"}); cats && cats->is_array()) {
      for (const json::Value& n : cats->as_array()) if (n.is_string()) t.categories.push_back(n.as_string());
    }
    t.has_status = v.Get({"subresources", "status"}) != nullptr;
    if (const json::Value* scale = v.Get({"subresources", "scale"})) {
      t.has_scale = true;
      auto path = [&](const char* key, const char* fallback) {
        std::string p = scale->GetString({key}, fallback);
        return p.empty() || p[0] != '.' ? p : p.substr(1);
      };
      t.scale_spec_path = path("specReplicasPath", ".spec.replicas");
      t.scale_status_path = path("statusReplicasPath", ".status.replicas");
      t.scale_selector_path = path("labelSelectorPath", "");
    }
    t.custom = true;
    if (const json::Value* s = v.Get({"schema", "openAPIV3Schema"})) t.schema = std::make_shared<const json::Value>(*s);
    if (const json::Value* cols = v.Find("additionalPrinterColumns")) t.printer_columns = *cols;
    t.strategy = kinds::DefaultStrategy();
    out.push_back(std::move(t));
  }
  return out;
}

void ApplySchemaDefaults(const json::Value& schema, json::Value& object) {
  if (object.is_object()) {
    if (const json::Value* props = schema.Find("properties"); props && props->is_object()) {
      for (const auto& [key, prop] : props->as_object()) {
        json::Value* have = object.Find(key);
        if (have == nullptr) {
          if (const json::Value* d = prop.Find("default")) object.Set(key, *d);
          have = object.Find(key);
        }
        if (have != nullptr) ApplySchemaDefaults(prop, *have);
      }
    }
  } else if (object.is_array()) {
    if (const json::Value* items = schema.Find("items")) {
      for (json::Value& e : object.as_array()) ApplySchemaDefaults(*items, e);
    }
  }
}

std::vector<std::string> PruneUnknownFields(const json::Value& schema, json::Value& object) {
  std::vector<std::string> dropped;
  Prune(schema, object, "", true, dropped, 0);
  return dropped;
}

}  // namespace berth::apiserver::registry
