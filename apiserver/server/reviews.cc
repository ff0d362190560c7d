#include "apiserver/server/reviews.h"

#include "apiserver/server/body_codec.h"
#include "absl/strings/str_join.h"
#include "core/api/errors.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

json::Value Strings(const std::vector<std::string>& list) {
  json::Value a = json::Value::MakeArray();
  for (const std::string& s : list) a.as_array().push_back(json::Value(s));
  return a;
}

// spec.resourceAttributes or spec.nonResourceAttributes into authorizer attributes; exactly
// one must be given.
absl::Status ReadAttributes(const json::Value& spec, const registry::ResourceType& type, auth::Attributes& a) {
  const json::Value* res = spec.Find("resourceAttributes");
  const json::Value* non = spec.Find("nonResourceAttributes");
  if ((res != nullptr) == (non != nullptr)) {
    return api::Invalid(type.Target(""), {{"FieldValueInvalid",
                                           StrCat("Invalid value: \"null\": exactly one of nonResourceAttributes or "
                                                  "resourceAttributes must be specified"),
                                           "spec.resourceAttributes"}});
  }
  if (res) {
    a.resource_request = true;
    a.ns = res->GetString({"namespace"});
    a.verb = res->GetString({"verb"});
    a.api_group = res->GetString({"group"});
    a.api_version = res->GetString({"version"});
    a.resource = res->GetString({"resource"});
    a.subresource = res->GetString({"subresource"});
    a.name = res->GetString({"name"});
  } else {
    a.path = non->GetString({"path"});
    a.verb = non->GetString({"verb"});
  }
  return absl::OkStatus();
}

json::Value UserInfoJson(const auth::UserInfo& u) {
  json::Value v = json::Value::MakeObject();
  v.Set("username", u.name);
  if (!u.uid.empty()) v.Set("uid", u.uid);
  v.Set("groups", Strings(u.groups));
  if (!u.extra.empty()) {
    json::Value extra = json::Value::MakeObject();
    for (const auto& [k, vals] : u.extra) extra.Set(k, Strings(vals));
    v.Set("extra", std::move(extra));
  }
  return v;
}

absl::StatusOr<json::Value> Answer(const Security& security, const endpoints::RequestContext& ctx,
                                   const registry::ResourceType& type, json::Value review) {
  json::Value spec = review.Find("spec") ? *review.Find("spec") : json::Value::MakeObject();
  json::Value status = json::Value::MakeObject();
  if (type.kind == "SelfSubjectReview") {
    status.Set("userInfo", UserInfoJson(ctx.user));
  } else if (type.kind == "TokenReview") {
    std::vector<std::string> audiences;
    if (const json::Value* a = spec.Find("audiences"); a && a->is_array()) {
      for (const json::Value& s : a->as_array()) {
        if (s.is_string()) audiences.push_back(s.as_string());
      }
    }
    std::string token = spec.GetString({"token"});
    if (token.empty()) {
      return api::Invalid(type.Target(""), {{"FieldValueRequired", "Required value: token must not be empty", "spec.token"}});
    }
    auto found = security.authenticator().AuthenticateToken(token, audiences);
    status.Set("authenticated", found.ok());
    if (found.ok()) {
      status.Set("user", UserInfoJson(found->user));
      status.Set("audiences", Strings(found->audiences));
    } else {
      status.Set("user", json::Value::MakeObject());
      status.Set("error", std::string(found.status().message()));
    }
  } else if (type.kind == "SelfSubjectRulesReview") {
    bool incomplete = false;
    auth::rbac::RulesForUser rules = security.RulesFor(ctx.user, spec.GetString({"namespace"}), incomplete);
    json::Value resource_rules = json::Value::MakeArray(), url_rules = json::Value::MakeArray();
    for (const auto& r : rules.rules) {
      json::Value out = json::Value::MakeObject();
      out.Set("verbs", Strings(r.verbs));
      if (!r.non_resource_urls.empty()) {
        out.Set("nonResourceURLs", Strings(r.non_resource_urls));
        url_rules.as_array().push_back(std::move(out));
        continue;
      }
      out.Set("apiGroups", Strings(r.api_groups));
      out.Set("resources", Strings(r.resources));
      if (!r.resource_names.empty()) out.Set("resourceNames", Strings(r.resource_names));
      resource_rules.as_array().push_back(std::move(out));
    }
    status.Set("resourceRules", std::move(resource_rules));
    status.Set("nonResourceRules", std::move(url_rules));
    status.Set("incomplete", incomplete);
    if (!rules.errors.empty()) status.Set("evaluationError", StrCat("[", absl::StrJoin(rules.errors, ", "), "]"));
  } else {
    auth::Attributes a;
    BERTH_RETURN_IF_ERROR(ReadAttributes(spec, type, a));
    if (type.kind == "SelfSubjectAccessReview") {
      a.user = ctx.user;
    } else {
      a.user.name = spec.GetString({"user"});
      a.user.uid = spec.GetString({"uid"});
      if (const json::Value* groups = spec.Find("groups"); groups && groups->is_array()) {
        for (const json::Value& g : groups->as_array()) {
          if (g.is_string()) a.user.groups.push_back(g.as_string());
        }
      }
      if (a.user.name.empty() && a.user.groups.empty()) {
        return api::Invalid(type.Target(""), {{"FieldValueRequired", "Required value: at least one of user or group must be specified",
                                               "spec.user"}});
      }
      if (type.kind == "LocalSubjectAccessReview") {
        if (!a.resource_request || a.ns != ctx.info.ns) {
          return api::BadRequest(StrCat("spec.resourceAttributes.namespace must match namespace: ", ctx.info.ns));
        }
      }
    }
    auth::Decision d = security.Decide(a);
    status.Set("allowed", d.allowed());
    if (d.kind == auth::Decision::kDeny) status.Set("denied", true);
    if (!d.reason.empty()) status.Set("reason", d.reason);
  }
  review.Set("apiVersion", type.ApiVersion());
  review.Set("kind", type.kind);
  json::Value& meta = review.Ensure({"metadata"});
  meta.Set("creationTimestamp", json::Value());
  review.Set("status", std::move(status));
  return review;
}

}  // namespace

void ServeReview(const Security& security, const std::shared_ptr<endpoints::Exchange>& ex,
                 const registry::ResourceType& type) {
  auto body = DecodeObject(ex->ctx.request);
  if (!body.ok()) return ex->Fail(body.status());
  if (!body->is_object()) return ex->Fail(api::BadRequest("the request body must be an object"));
  auto answer = Answer(security, ex->ctx, type, *std::move(body));
  if (!answer.ok()) return ex->Fail(answer.status());
  ex->ReplyJson(201, *answer);
}

}  // namespace berth::apiserver::server
