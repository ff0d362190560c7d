#include "apiserver/endpoints/endpoints.h"

// Writes of an existing object (PUT, PATCH, server-side apply) and the write subresources.

#include "apiserver/registry/field_manager.h"
#include "apiserver/server/body_codec.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

void ServeWrite(const Endpoints& c, const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  const server::RequestInfo& info = ex->ctx.info;
  registry::WriteOptions opts;
  if (absl::Status s = ParseDryRun(req, opts.dry_run); !s.ok()) return ex->Fail(s);
  if (absl::Status s = ParseFieldOptions(ex->ctx, opts); !s.ok()) return ex->Fail(s);
  registry::Subresource sub = info.subresource == "status" ? registry::Subresource::kStatus : registry::Subresource::kNone;
  const std::string& method = req.method;

  if (method == "PATCH") {
    auto decoded = server::DecodePatch(req, type);
    if (!decoded.ok()) return ex->Fail(decoded.status());
    if (decoded->type == registry::PatchType::kApply) {
      if (opts.field_manager.empty()) {
        return ex->Fail(api::Invalid(type.Target(info.name), {{"FieldValueRequired", "Required value: is required for apply patch", "fieldManager"}}));
      }
      // Apply creates what does not exist yet.
      if (!c.registry.Get(type, info.ns, info.name).ok() && sub == registry::Subresource::kNone) {
        registry::ApplyRequest apply{opts.field_manager, opts.force, type.ApiVersion(), c.clock.Now()};
        auto owned = registry::ApplyConfiguration(nullptr, decoded->patch, apply);
        if (!owned.ok()) return ex->Fail(api::BadRequest(Sv(owned.status().message())));
        json::Value body = *std::move(owned);
        body.Ensure({"metadata"}).Set("name", info.name);
        auto created = c.registry.Create(type, info.ns, std::move(body), opts);
        if (!created.ok()) return ex->Fail(created.status());
        return ex->ReplyJson(201, created->object, created->warnings);
      }
    }
    auto patch = [&](const registry::WriteOptions& o) {
      return c.registry.Patch(type, info.ns, info.name, decoded->type, decoded->patch, sub, o);
    };
    if (IsCertificateSigningRequest(type) && sub == registry::Subresource::kStatus) {
      if (absl::Status s = CheckCertificateWrite(c, ex->ctx.user, type, info.name, opts, patch); !s.ok()) return ex->Fail(s);
    }
    auto r = patch(opts);
    if (!r.ok()) return ex->Fail(r.status());
    return ex->ReplyJson(200, r->object, r->warnings);
  }

  auto body = server::DecodeObject(req);
  if (!body.ok()) return ex->Fail(body.status());
  if (info.subresource == "binding" || info.subresource == "eviction") {
    absl::Status s = info.subresource == "binding" ? c.registry.Bind(info.ns, info.name, *body, opts.dry_run)
                                                   : c.registry.Evict(info.ns, info.name, *body, opts.dry_run);
    if (!s.ok()) return ex->Fail(s);
    json::Value ok = json::Value::MakeObject();
    ok.Set("kind", "Status");
    ok.Set("apiVersion", "v1");
    ok.Set("metadata", json::Value::MakeObject());
    ok.Set("status", "Success");
    ok.Set("code", 201);
    return ex->ReplyJson(201, ok);
  }
  if (info.subresource == "approval") {
    // kubectl certificate approve|deny: the body's conditions, nothing else (the certificate is
    // the signer's to set, through /status).
    auto stored = c.registry.Get(type, "", info.name);
    if (!stored.ok()) return ex->Fail(stored.status());
    auto current = json::ParseStored(*stored);
    if (!current.ok()) return ex->Fail(api::InternalError(std::string(current.status().message())));
    if (absl::Status s = CheckSignerPermission(c, ex->ctx.user, "approve", type, *current); !s.ok()) return ex->Fail(s);
    bool approved = false, denied = false;
    if (const json::Value* conds = body->Get({"status", "conditions"}); conds && conds->is_array()) {
      for (const json::Value& cond : conds->as_array()) {
        std::string t = cond.GetString({"type"});
        if (t != "Approved" && t != "Denied" && t != "Failed") {
          return ex->Fail(api::Invalid(type.Target(info.name), {{"FieldValueNotSupported",
              StrCat("Unsupported value: \"", t, "\": supported values: \"Approved\", \"Denied\", \"Failed\""),
              "status.conditions[].type"}}));
        }
        approved = approved || t == "Approved";
        denied = denied || t == "Denied";
      }
    }
    if (approved && denied) {
      return ex->Fail(api::Invalid(type.Target(info.name), {{"FieldValueInvalid",
          "Invalid value: \"Approved\": Approved and Denied conditions are mutually exclusive", "status.conditions[].type"}}));
    }
    json::Value next = *current;
    json::Value& status = next.Ensure({"status"});
    status.Set("conditions", body->Get({"status", "conditions"}) ? *body->Get({"status", "conditions"}) : json::Value::MakeArray());
    if (std::string rv = body->GetString({"metadata", "resourceVersion"}); !rv.empty()) next["metadata"].Set("resourceVersion", rv);
    auto r = c.registry.Update(type, "", info.name, std::move(next), registry::Subresource::kStatus, opts);
    if (!r.ok()) return ex->Fail(r.status());
    return ex->ReplyJson(200, r->object, r->warnings);
  }
  if (info.subresource == "finalize") {
    json::Value patch = json::Value::MakeObject();
    const json::Value* f = body->Get({"spec", "finalizers"});
    patch.Ensure({"spec"}).Set("finalizers", f ? *f : json::Value::MakeArray());
    auto r = c.registry.Patch(type, "", info.name, registry::PatchType::kMerge, patch, registry::Subresource::kNone, opts);
    if (!r.ok()) return ex->Fail(r.status());
    return ex->ReplyJson(200, r->object, r->warnings);
  }
  if (method == "POST") {
    auto r = c.registry.Create(type, info.ns, *std::move(body), opts);
    if (!r.ok()) return ex->Fail(r.status());
    return ex->ReplyJson(201, r->object, r->warnings);
  }
  if (IsCertificateSigningRequest(type) && sub == registry::Subresource::kStatus) {
    auto update = [&](const registry::WriteOptions& o) { return c.registry.Update(type, info.ns, info.name, *body, sub, o); };
    if (absl::Status s = CheckCertificateWrite(c, ex->ctx.user, type, info.name, opts, update); !s.ok()) return ex->Fail(s);
  }
  auto r = c.registry.Update(type, info.ns, info.name, *std::move(body), sub, opts);
  if (!r.ok()) return ex->Fail(r.status());
  ex->ReplyJson(200, r->object, r->warnings);
}

}  // namespace berth::apiserver::endpoints
