#include "apiserver/server/service_account_tokens.h"

#include "apiserver/auth/node/node_authorizer.h"
#include "apiserver/server/body_codec.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"

namespace berth::apiserver::server {
namespace {

using auth::serviceaccount::StoredObject;

class Lookup final : public auth::serviceaccount::ObjectLookup {
 public:
  explicit Lookup(const registry::Registry& registry) : registry_(registry) {}

  std::optional<StoredObject> Find(const std::string& kind, const std::string& ns, const std::string& name) const override {
    const char* plural = kind == "ServiceAccount" ? "serviceaccounts" : kind == "Pod" ? "pods"
                         : kind == "Secret"       ? "secrets"         : kind == "Node" ? "nodes" : nullptr;
    if (plural == nullptr) return std::nullopt;
    const registry::ResourceType* type = registry_.catalog().Find("", "v1", plural);
    if (type == nullptr) return std::nullopt;
    auto stored = registry_.Get(*type, kind == "Node" ? "" : ns, name);
    if (!stored.ok()) return std::nullopt;
    auto object = json::ParseStored(*stored);
    if (!object.ok()) return std::nullopt;
    StoredObject out;
    out.uid = object->GetString({"metadata", "uid"});
    out.node_name = object->GetString({"spec", "nodeName"});
    if (std::string at = object->GetString({"metadata", "deletionTimestamp"}); !at.empty()) {
      out.deletion = ParseRfc3339(at, absl::InfinitePast());
    }
    return out;
  }

 private:
  const registry::Registry& registry_;
};

api::Target TokenRequestTarget(const std::string& name) { return {"authentication.k8s.io", "TokenRequest", name, "TokenRequest"}; }

absl::StatusOr<json::Value> Answer(const auth::serviceaccount::TokenAuthority& authority, const TokenRequestLimits& limits,
                                   const registry::Registry& registry, const endpoints::RequestContext& ctx,
                                   json::Value request) {
  const std::string& ns = ctx.info.ns;
  const std::string& name = ctx.info.name;
  if (!request.is_object()) return api::BadRequest("the request body must be an authentication.k8s.io/v1 TokenRequest");
  if (std::string named = request.GetString({"metadata", "name"}); !named.empty() && named != name) {
    return api::Invalid(TokenRequestTarget(name), {{"FieldValueInvalid",
                                                   StrCat("Invalid value: \"", named, "\": must match the service account name if specified"),
                                                   "metadata.name"}});
  }
  json::Value& spec = request.Ensure({"spec"});
  int64_t seconds = 3600;
  if (const json::Value* e = spec.Find("expirationSeconds"); e && !e->is_null()) {
    if (!e->is_int()) {
      return api::Invalid(TokenRequestTarget(name), {{"FieldValueInvalid", "Invalid value: must be an integer", "spec.expirationSeconds"}});
    }
    seconds = e->as_int();
  }
  if (seconds < 600) {
    return api::Invalid(TokenRequestTarget(name), {{"FieldValueInvalid",
                                                   StrCat("Invalid value: ", seconds, ": may not specify a duration less than 10 minutes"),
                                                   "spec.expirationSeconds"}});
  }
  if (seconds > (int64_t{1} << 32)) {
    return api::Invalid(TokenRequestTarget(name), {{"FieldValueInvalid",
                                                   StrCat("Invalid value: ", seconds, ": may not specify a duration larger than 2^32 seconds"),
                                                   "spec.expirationSeconds"}});
  }
  // kube-apiserver's --service-account-max-token-expiration: longer asks are shortened, and the
  // answer's expirationTimestamp says so.
  seconds = std::min<int64_t>(seconds, absl::ToInt64Seconds(limits.max_expiration));

  auth::serviceaccount::TokenSpec token;
  token.ns = ns;
  token.service_account = name;
  token.expiration = absl::Seconds(seconds);
  if (const json::Value* auds = spec.Find("audiences"); auds && auds->is_array()) {
    for (const json::Value& a : auds->as_array()) {
      if (a.is_string() && !a.as_string().empty()) token.audiences.push_back(a.as_string());
    }
  }
  const registry::Catalog& catalog = registry.catalog();
  const registry::ResourceType* sa_type = catalog.Find("", "v1", "serviceaccounts");
  auto sa = registry.Get(*sa_type, ns, name);
  if (!sa.ok()) return sa.status();
  auto sa_object = json::ParseStored(*sa);
  if (!sa_object.ok()) return api::InternalError(std::string(sa_object.status().message()));
  token.service_account_uid = sa_object->GetString({"metadata", "uid"});

  std::string pod_node;
  if (const json::Value* ref = spec.Find("boundObjectRef"); ref && ref->is_object()) {
    std::string kind = ref->GetString({"kind"}), ref_name = ref->GetString({"name"}), uid = ref->GetString({"uid"});
    if (kind != "Pod" && kind != "Secret") {
      return api::BadRequest(StrCat("cannot bind token for serviceaccount \"", name, "\" to object of kind \"", kind,
                                    "\": Berth binds tokens to a Pod or a Secret"));
    }
    if (std::string v = ref->GetString({"apiVersion"}, "v1"); v != "v1") {
      return api::BadRequest(StrCat("cannot bind token to object of apiVersion \"", v, "\": want v1"));
    }
    if (ref_name.empty()) {
      return api::Invalid(TokenRequestTarget(name), {{"FieldValueRequired", "Required value", "spec.boundObjectRef.name"}});
    }
    const registry::ResourceType* type = catalog.Find("", "v1", kind == "Pod" ? "pods" : "secrets");
    auto stored = registry.Get(*type, ns, ref_name);
    if (!stored.ok()) return stored.status();
    auto object = json::ParseStored(*stored);
    if (!object.ok()) return api::InternalError(std::string(object.status().message()));
    std::string stored_uid = object->GetString({"metadata", "uid"});
    if (!uid.empty() && uid != stored_uid) {
      return api::Conflict(type->Target(ref_name),
                           StrCat("the UID in the bound object reference (", uid,
                                  ") does not match the UID in record. The object might have been deleted and then recreated"));
    }
    token.bound = auth::serviceaccount::BoundObject{kind, ref_name, stored_uid};
    if (kind == "Pod") {
      pod_node = object->GetString({"spec", "nodeName"});
      if (!pod_node.empty()) {
        token.node_name = pod_node;
        if (auto node = RegistryObjectLookup(registry)->Find("Node", "", pod_node)) token.node_uid = node->uid;
      }
    }
    json::Value filled = *ref;
    filled.Set("apiVersion", "v1");
    filled.Set("uid", stored_uid);
    spec.Set("boundObjectRef", std::move(filled));
  }
  // NodeRestriction: a node asks only for tokens of its own pods, bound to them.
  if (std::string node = auth::node::NodeNameOf(ctx.user); !node.empty()) {
    const json::Value* ref = spec.Find("boundObjectRef");
    if (!token.bound || token.bound->kind != "Pod") {
      return api::Forbidden(TokenRequestTarget(name), "node requested token not bound to a pod");
    }
    if (ref->GetString({"uid"}).empty()) {
      return api::Forbidden(TokenRequestTarget(name), "node requested token with a pod binding without a uid");
    }
    if (pod_node != node) {
      return api::Forbidden(TokenRequestTarget(name), "node requested token bound to a pod scheduled on a different node");
    }
  }
  auto issued = authority.Issue(token);
  if (!issued.ok()) return api::InternalError(std::string(issued.status().message()));
  request.Set("apiVersion", "authentication.k8s.io/v1");
  request.Set("kind", "TokenRequest");
  json::Value& meta = request.Ensure({"metadata"});
  meta.Set("name", name);
  meta.Set("namespace", ns);
  meta.Set("creationTimestamp", json::Value());
  if (!spec.Find("audiences") || spec.Find("audiences")->is_null()) {
    json::Value auds = json::Value::MakeArray();
    for (const std::string& a : authority.api_audiences()) auds.as_array().push_back(json::Value(a));
    spec.Set("audiences", std::move(auds));
  }
  spec.Set("expirationSeconds", seconds);
  if (!spec.Find("boundObjectRef")) spec.Set("boundObjectRef", json::Value());
  json::Value status = json::Value::MakeObject();
  status.Set("token", issued->token);
  status.Set("expirationTimestamp", FormatRfc3339(issued->expires));
  request.Set("status", std::move(status));
  return request;
}

}  // namespace

std::shared_ptr<const auth::serviceaccount::ObjectLookup> RegistryObjectLookup(const registry::Registry& registry) {
  return std::make_shared<Lookup>(registry);
}

void ServeTokenRequest(const auth::serviceaccount::TokenAuthority& authority, const TokenRequestLimits& limits,
                       const registry::Registry& registry, const std::shared_ptr<endpoints::Exchange>& ex) {
  auto body = DecodeObject(ex->ctx.request);
  if (!body.ok()) return ex->Fail(body.status());
  auto answer = Answer(authority, limits, registry, ex->ctx, *std::move(body));
  if (!answer.ok()) return ex->Fail(answer.status());
  ex->ReplyJson(201, *answer);
}

}  // namespace berth::apiserver::server
