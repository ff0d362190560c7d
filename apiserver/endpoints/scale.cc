#include "apiserver/endpoints/endpoints.h"

// The /scale subresource (autoscaling/v1 Scale) of kinds with replicas.

#include "apiserver/server/body_codec.h"
#include "core/api/errors.h"
#include "core/patch/patch.h"
#include "core/patch/strategic_merge.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

void ServeScale(const Endpoints& c, const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  const server::RequestInfo& info = ex->ctx.info;
  if (req.method == "GET") {
    auto s = c.registry.GetScale(type, info.ns, info.name);
    if (!s.ok()) return ex->Fail(s.status());
    return ex->ReplyJson(200, *s);
  }
  registry::WriteOptions opts;
  if (absl::Status s = ParseDryRun(req, opts.dry_run); !s.ok()) return ex->Fail(s);
  json::Value scale;
  if (req.method == "PUT") {
    auto body = server::DecodeObject(req);
    if (!body.ok()) return ex->Fail(body.status());
    scale = *std::move(body);
  } else if (req.method == "PATCH") {
    auto decoded = server::DecodePatch(req, type);
    if (!decoded.ok()) return ex->Fail(decoded.status());
    auto current = c.registry.GetScale(type, info.ns, info.name);
    if (!current.ok()) return ex->Fail(current.status());
    absl::StatusOr<json::Value> patched;
    switch (decoded->type) {
      case registry::PatchType::kJson: patched = patch::JsonPatch(*current, decoded->patch); break;
      case registry::PatchType::kMerge: patched = patch::MergePatch(*current, decoded->patch); break;
      default: patched = patch::StrategicMergePatch(*current, decoded->patch); break;
    }
    if (!patched.ok()) return ex->Fail(api::BadRequest(Sv(patched.status().message())));
    scale = *std::move(patched);
    // The patch was computed against the scale we just read: no precondition unless it set one.
    if (scale.GetString({"metadata", "resourceVersion"}) == current->GetString({"metadata", "resourceVersion"})) {
      scale["metadata"].Erase("resourceVersion");
    }
  } else {
    return ex->Fail(api::MethodNotAllowed("scale supports GET, PUT and PATCH"));
  }
  auto r = c.registry.UpdateScale(type, info.ns, info.name, scale, opts);
  if (!r.ok()) return ex->Fail(r.status());
  ex->ReplyJson(200, *r);
}

}  // namespace berth::apiserver::endpoints
