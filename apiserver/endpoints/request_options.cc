#include "apiserver/endpoints/endpoints.h"

#include "core/api/errors.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

bool ParseBool(const std::string& s) { return s == "1" || s == "true" || s == "True" || s == "TRUE" || s == "t" || s == "T"; }

absl::Status CheckDryRunValue(const std::string& value, bool& dry_run) {
  if (value == "All") {
    dry_run = true;
    return absl::OkStatus();
  }
  return api::BadRequest(StrCat("dryRun: Unsupported value: \"", value, "\": supported values: \"All\""));
}

absl::Status ParseDryRun(const http::Request& req, bool& dry_run) {
  if (!req.HasQuery("dryRun")) return absl::OkStatus();
  return CheckDryRunValue(req.Query("dryRun"), dry_run);
}

absl::Status ParseFieldOptions(const RequestContext& ctx, registry::WriteOptions& options) {
  options.user = std::make_shared<const auth::UserInfo>(ctx.user);
  options.audit_annotations = ctx.audit_annotations.get();
  const http::Request& req = ctx.request;
  options.field_validation = req.Query("fieldValidation");
  const std::string& v = options.field_validation;
  if (!v.empty() && v != "Strict" && v != "Warn" && v != "Ignore") {
    return api::BadRequest(StrCat("fieldValidation must be one of Strict, Warn, Ignore, got \"", v, "\""));
  }
  options.field_manager = req.Query("fieldManager");
  options.force = ParseBool(req.Query("force"));
  return absl::OkStatus();
}

json::Value SuccessStatus(const registry::ResourceType& type, const json::Value& object) {
  json::Value s = json::Value::MakeObject();
  s.Set("kind", "Status");
  s.Set("apiVersion", "v1");
  s.Set("metadata", json::Value::MakeObject());
  s.Set("status", "Success");
  json::Value d = json::Value::MakeObject();
  d.Set("name", object.GetString({"metadata", "name"}));
  if (!type.group.empty()) d.Set("group", type.group);
  d.Set("kind", type.plural);
  d.Set("uid", object.GetString({"metadata", "uid"}));
  s.Set("details", std::move(d));
  return s;
}

}  // namespace berth::apiserver::endpoints
