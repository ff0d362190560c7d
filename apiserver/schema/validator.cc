#include "apiserver/schema/validator.h"

#include <cmath>
#include <cstdint>
#include <mutex>
#include <regex>

#include "absl/time/time.h"
#include "core/intstr/int_or_percent.h"
#include "core/json/codec.h"
#include "core/resource/quantity.h"
#include "core/strings/strings.h"

namespace berth::apiserver::schema {
namespace {

std::string KindKey(std::string_view group, std::string_view version, std::string_view kind) {
  return StrCat(group, "/", version, "/", kind);
}

const std::regex* CompiledPattern(const std::string& pattern) {
  static std::mutex mu;
  static auto* cache = new std::map<std::string, std::unique_ptr<std::regex>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(pattern);
  if (it != cache->end()) return it->second.get();
  std::unique_ptr<std::regex> re;
  try {
    re = std::make_unique<std::regex>(pattern, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error&) {
    re = nullptr;
  }
  const std::regex* out = re.get();
  (*cache)[pattern] = std::move(re);
  return out;
}

std::string TypeName(const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::kNull: return "null";
    case json::Value::Type::kBool: return "boolean";
    case json::Value::Type::kInt: return "integer";
    case json::Value::Type::kDouble: return "number";
    case json::Value::Type::kString: return "string";
    case json::Value::Type::kArray: return "array";
    case json::Value::Type::kObject: return "object";
  }
  return "unknown";
}

std::string Render(const json::Value& v) {
  std::string s = json::Serialize(v);
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

class Walker {
 public:
  Walker(const json::Value& definitions, const ValidateOptions& options, ValidationResult& out)
      : defs_(definitions), options_(options), out_(out) {}

  void Check(const json::Value& schema_in, const json::Value& v, const std::string& path, int depth) {
    if (depth > 64) return;
    const json::Value* schema = Resolve(schema_in);
    if (schema == nullptr) return;
    if (v.is_null()) {
      // Optional fields may be null: Kubernetes decodes null as "not set".
      return;
    }
    if (const json::Value* f = schema->Find("x-berth-format"); f && f->is_string()) {
      CheckBerthFormat(f->as_string(), v, path);
      return;
    }
    if (const json::Value* ios = schema->Find("x-kubernetes-int-or-string"); ios && ios->is_bool() && ios->as_bool()) {
      if (!v.is_int() && !v.is_string()) {
        Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": must be an integer or a string"));
      } else if (v.is_int() && (v.as_int() > INT32_MAX || v.as_int() < INT32_MIN)) {
        // IntOrString holds an int32 in every Kubernetes client.
        Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": out of range for int32"));
      }
      return;
    }
    std::string type = schema->GetString({"type"});
    if (type == "integer" && v.is_double() && options_.strict_integers) {
      // Go's typed clients decode integers into int64: 1e3, 1.0 and anything past 2^63 fail
      // there, so the apiserver must not store them.
      Fail("FieldValueTypeInvalid", path,
           StrCat("Invalid value: ", Render(v), ": ", path.empty() ? "body" : path,
                  " must be an integer between -9223372036854775808 and 9223372036854775807 written without "
                  "a fraction or exponent"));
      return;
    }
    if (type == "integer" && v.is_double() && !(std::fabs(v.as_double()) < 9.2233720368547758e18)) {
      Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": out of range for int64"));
      return;
    }
    if (!type.empty() && !TypeMatches(type, v)) {
      Fail("FieldValueTypeInvalid", path,
           StrCat("Invalid value: \"", TypeName(v), "\": ", path.empty() ? "body" : path, " in body must be of type ", type, ": ", Render(v)));
      return;
    }
    if (const json::Value* en = schema->Find("enum"); en && en->is_array()) {
      bool found = false;
      for (const json::Value& e : en->as_array()) found = found || e == v;
      if (!found) {
        std::vector<std::string> allowed;
        for (const json::Value& e : en->as_array()) allowed.push_back(Render(e));
        std::string list;
        for (size_t i = 0; i < allowed.size(); ++i) list += (i ? ", " : "") + allowed[i];
        Fail("FieldValueNotSupported", path, StrCat("Unsupported value: ", Render(v), ": supported values: ", list));
        return;
      }
    }
    if (v.is_string()) CheckString(*schema, v.as_string(), path);
    if (v.is_number()) CheckNumber(*schema, v, path);
    if (v.is_array()) {
      CheckCount(*schema, v.size(), path, "minItems", "maxItems", "items");
      if (const json::Value* items = schema->Find("items")) {
        for (size_t i = 0; i < v.as_array().size(); ++i) {
          Check(*items, v.as_array()[i], StrCat(path, "[", i, "]"), depth + 1);
        }
      }
    }
    if (v.is_object()) CheckObject(*schema, v, path, depth);
  }

 private:
  const json::Value* Resolve(const json::Value& schema) {
    const json::Value* s = &schema;
    for (int i = 0; i < 8; ++i) {
      const json::Value* ref = s->Find("$ref");
      if (ref == nullptr || !ref->is_string()) return s;
      std::string_view r = ref->as_string();
      constexpr std::string_view kPrefix = "#/definitions/";
      if (r.substr(0, kPrefix.size()) != kPrefix) return nullptr;
      s = defs_.Find(r.substr(kPrefix.size()));
      if (s == nullptr) return nullptr;
    }
    return s;
  }

  static bool TypeMatches(const std::string& type, const json::Value& v) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "boolean") return v.is_bool();
    if (type == "integer") return v.is_int() || (v.is_double() && std::floor(v.as_double()) == v.as_double());
    if (type == "number") return v.is_number();
    return true;
  }

  // Value grammars Kubernetes checks in Go code rather than in its OpenAPI documents.
  void CheckBerthFormat(const std::string& format, const json::Value& v, const std::string& path) {
    if (format == "quantity" || format == "resource-quantity") {
      if (!v.is_string() && !v.is_number()) {
        Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": a quantity must be a string such as \"100m\" or \"1Gi\""));
        return;
      }
      auto milli = resource::MilliOfValue(v);
      if (!milli.ok()) {
        Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": ", Sv(milli.status().message())));
      } else if (format == "resource-quantity" && *milli < 0) {
        Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": must be greater than or equal to 0"));
      }
      return;
    }
    if (format == "int-or-percent") {
      if (absl::Status st = intstr::ValidateIntOrPercent(v); !st.ok()) {
        Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": ", Sv(st.message())));
      }
      return;
    }
  }

  void CheckString(const json::Value& schema, const std::string& s, const std::string& path) {
    if (const json::Value* mx = schema.Find("maxLength"); mx && mx->is_int() && static_cast<int64_t>(s.size()) > mx->as_int()) {
      Fail("FieldValueTooLong", path, StrCat("Too long: may not be more than ", mx->as_int(), " bytes"));
      return;
    }
    if (const json::Value* mn = schema.Find("minLength"); mn && mn->is_int() && static_cast<int64_t>(s.size()) < mn->as_int()) {
      Fail("FieldValueInvalid", path, StrCat("Invalid value: \"", s, "\": should be at least ", mn->as_int(), " chars long"));
      return;
    }
    if (const json::Value* p = schema.Find("pattern"); p && p->is_string() && s.size() <= 4096) {
      const std::regex* re = CompiledPattern(p->as_string());
      if (re != nullptr && !std::regex_search(s, *re)) {
        Fail("FieldValueInvalid", path, StrCat("Invalid value: \"", s, "\": should match '", p->as_string(), "'"));
        return;
      }
    }
    std::string format = schema.GetString({"format"});
    if (format == "date-time" && !s.empty()) {
      absl::Time t;
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
        Fail("FieldValueInvalid", path, StrCat("Invalid value: \"", s, "\": must be an RFC 3339 date-time"));
      }
    }
    if (format == "byte") {
      for (char c : s) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' || c == '\n' || c == '\r')) {
          Fail("FieldValueInvalid", path, "Invalid value: must be base64 encoded");
          return;
        }
      }
    }
  }

  void CheckNumber(const json::Value& schema, const json::Value& v, const std::string& path) {
    double d = v.as_double();
    if (const json::Value* mn = schema.Find("minimum"); mn && mn->is_number() && d < mn->as_double()) {
      Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": must be greater than or equal to ", Render(*mn)));
    }
    if (const json::Value* mx = schema.Find("maximum"); mx && mx->is_number() && d > mx->as_double()) {
      Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": must be less than or equal to ", Render(*mx)));
    }
    std::string format = schema.GetString({"format"});
    if (format == "int32" && (d > 2147483647.0 || d < -2147483648.0)) {
      Fail("FieldValueInvalid", path, StrCat("Invalid value: ", Render(v), ": out of range for int32"));
    }
  }

  void CheckCount(const json::Value& schema, size_t n, const std::string& path, const char* min_key,
                  const char* max_key, const char* what) {
    if (const json::Value* mn = schema.Find(min_key); mn && mn->is_int() && static_cast<int64_t>(n) < mn->as_int()) {
      Fail("FieldValueRequired", path, StrCat("Required value: must have at least ", mn->as_int(), " ", what));
    }
    if (const json::Value* mx = schema.Find(max_key); mx && mx->is_int() && static_cast<int64_t>(n) > mx->as_int()) {
      Fail("FieldValueTooMany", path, StrCat("Too many: ", n, ": must have at most ", mx->as_int(), " ", what));
    }
  }

  void CheckObject(const json::Value& schema, const json::Value& v, const std::string& path, int depth) {
    CheckCount(schema, v.size(), path, "minProperties", "maxProperties", "properties");
    if (const json::Value* req = schema.Find("required"); req && req->is_array()) {
      for (const json::Value& r : req->as_array()) {
        if (!r.is_string()) continue;
        const json::Value* f = v.Find(r.as_string());
        if (f == nullptr || f->is_null()) {
          Fail("FieldValueRequired", Join(path, r.as_string()), "Required value");
        }
      }
    }
    const json::Value* props = schema.Find("properties");
    const json::Value* additional = schema.Find("additionalProperties");
    const json::Value* preserve = schema.Find("x-kubernetes-preserve-unknown-fields");
    bool preserves = preserve && preserve->is_bool() && preserve->as_bool();
    for (const auto& [key, value] : v.as_object()) {
      const json::Value* prop = props ? props->Find(key) : nullptr;
      if (prop != nullptr) {
        Check(*prop, value, Join(path, key), depth + 1);
      } else if (additional != nullptr && additional->is_object()) {
        Check(*additional, value, Join(path, key), depth + 1);
      } else if (additional != nullptr && additional->is_bool() && additional->as_bool()) {
        // declared open
      } else if (!preserves && props != nullptr) {
        out_.unknown_fields.push_back(Join(path, key));
      }
    }
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : StrCat(path, ".", key);
  }

  void Fail(const char* reason, const std::string& path, std::string message) {
    out_.causes.push_back({reason, std::move(message), path});
  }

  const json::Value& defs_;
  const ValidateOptions& options_;
  ValidationResult& out_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const SchemaSet>> SchemaSet::Load(
    const std::map<std::string, std::string>& documents) {
  auto set = std::make_shared<SchemaSet>();
  for (const auto& [name, text] : documents) {
    auto doc = json::Parse(text, 256);
    if (!doc.ok()) {
      return absl::InvalidArgumentError(StrCat("schema ", name, ": ", doc.status().message()));
    }
    if (const json::Value* defs = doc->Find("definitions"); defs && defs->is_object()) {
      for (const auto& [k, v] : defs->as_object()) set->definitions_.Set(k, v);
    }
    if (const json::Value* gvk = doc->Find("x-berth-gvk"); gvk && gvk->is_object()) {
      std::string key = KindKey(gvk->GetString({"group"}), gvk->GetString({"version"}), gvk->GetString({"kind"}));
      json::Value schema = *doc;
      schema.Erase("definitions");
      set->kinds_[key] = std::move(schema);
    }
  }
  return std::shared_ptr<const SchemaSet>(std::move(set));
}

const json::Value* SchemaSet::ForKind(std::string_view group, std::string_view version,
                                      std::string_view kind) const {
  auto it = kinds_.find(KindKey(group, version, kind));
  return it == kinds_.end() ? nullptr : &it->second;
}

ValidationResult SchemaSet::Validate(const json::Value& schema, const json::Value& object,
                                     const ValidateOptions& options) const {
  ValidationResult out;
  Walker(definitions_, options, out).Check(schema, object, "", 0);
  return out;
}

std::map<std::string, const json::Value*> SchemaSet::kinds() const {
  std::map<std::string, const json::Value*> out;
  for (const auto& [k, v] : kinds_) out[k] = &v;
  return out;
}

}  // namespace berth::apiserver::schema
