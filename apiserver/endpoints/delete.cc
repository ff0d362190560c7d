#include "apiserver/endpoints/endpoints.h"

// DELETE of one object, with DeleteOptions from the body or the query.

#include "absl/strings/numbers.h"
#include "apiserver/server/body_codec.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

void ServeDelete(const Endpoints& c, const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  registry::DeleteOptions opts;
  json::Value body = json::Value::MakeObject();
  if (!Strip(req.body).empty()) {
    auto decoded = server::DecodeObject(req);
    if (!decoded.ok()) return ex->Fail(decoded.status());
    body = *std::move(decoded);
  }
  if (const json::Value* g = body.Find("gracePeriodSeconds"); g && g->is_int()) opts.grace_period_seconds = g->as_int();
  opts.propagation_policy = body.GetString({"propagationPolicy"});
  if (const json::Value* p = body.Find("preconditions"); p && p->is_object()) {
    if (const json::Value* u = p->Find("uid"); u && u->is_string()) opts.precondition_uid = u->as_string();
    if (const json::Value* v = p->Find("resourceVersion"); v && v->is_string()) opts.precondition_resource_version = v->as_string();
  }
  if (const json::Value* d = body.Find("dryRun"); d && !d->is_null()) {
    if (!d->is_array()) return ex->Fail(api::BadRequest("dryRun: must be a list of strings"));
    for (const json::Value& e : d->as_array()) {
      if (absl::Status s = CheckDryRunValue(e.is_string() ? e.as_string() : json::Serialize(e), opts.dry_run); !s.ok()) {
        return ex->Fail(s);
      }
    }
  }
  if (req.HasQuery("gracePeriodSeconds")) {
    int64_t g = 0;
    if (!absl::SimpleAtoi(req.Query("gracePeriodSeconds"), &g)) return ex->Fail(api::BadRequest("gracePeriodSeconds must be an integer"));
    opts.grace_period_seconds = g;
  }
  if (req.HasQuery("propagationPolicy")) opts.propagation_policy = req.Query("propagationPolicy");
  if (absl::Status s = ParseDryRun(req, opts.dry_run); !s.ok()) return ex->Fail(s);
  const std::string& pp = opts.propagation_policy;
  if (!pp.empty() && pp != "Background" && pp != "Foreground" && pp != "Orphan") {
    return ex->Fail(api::BadRequest(StrCat("invalid propagationPolicy \"", pp, "\": must be Background, Foreground or Orphan")));
  }
  auto r = c.registry.Delete(type, ex->ctx.info.ns, ex->ctx.info.name, opts);
  if (!r.ok()) return ex->Fail(r.status());
  if (r->removed && !type.return_deleted_object) return ex->ReplyJson(200, SuccessStatus(type, r->object));
  ex->ReplyJson(200, r->object);
}

}  // namespace berth::apiserver::endpoints
