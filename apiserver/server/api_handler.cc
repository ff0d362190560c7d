#include "apiserver/server/api_handler.h"

#include <algorithm>

#include "absl/strings/ascii.h"

#include "apiserver/server/discovery.h"
#include "apiserver/server/openapi.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

std::string VersionJson() {
  return R"v({"major":"1","minor":"32","gitVersion":"v1.32.4","gitCommit":"berth","gitTreeState":"clean","buildDate":"2026-11-25T00:00:00Z","goVersion":"none (C++20)","compiler":"gcc","platform":"linux/amd64"})v";
}

}  // namespace

ApiHandler::ApiHandler(registry::Registry& registry, watch::WatchCache& watch_cache,
                       std::shared_ptr<const schema::SchemaSet> schemas, Metrics& metrics,
                       ThreadPool& work_pool, ThreadPool& admission_pool, const Clock& clock)
    : registry_(registry), watch_cache_(watch_cache), schemas_(std::move(schemas)),
      metrics_(metrics), pool_(work_pool), admission_pool_(admission_pool), clock_(clock), endpoints_{registry, watch_cache, clock} {}

http::Response ApiHandler::ErrorResponse(const absl::Status& status) {
  api::HttpError e = api::ToHttp(status);
  http::Response r;
  r.status = e.code;
  r.body = json::Serialize(e.body);
  return r;
}

void ApiHandler::Handle(http::Request request, std::shared_ptr<http::Responder> responder) {
  RequestContext ctx;
  ctx.start = clock_.MonotonicNow();
  ctx.received = clock_.Now();
  // Only an audited server names requests: an unaudited one pays nothing for it.
  if (auditor_ != nullptr) ctx.audit_id = audit::NewAuditId();
  ctx.info = ResolveRequest(request.segments);
  ctx.request = std::move(request);
  const std::string& m = ctx.request.method;
  if (!ctx.info.is_resource) {
    // Non-resource requests are authorized by their HTTP method, lower-cased (upstream).
    ctx.verb = absl::AsciiStrToLower(m);
  } else if (m == "GET" || m == "HEAD") {
    bool watching = endpoints::ParseBool(ctx.request.Query("watch"));
    ctx.verb = watching ? "watch" : (ctx.info.is_resource && ctx.info.name.empty() ? "list" : "get");
  } else if (m == "POST") {
    ctx.verb = "create";
  } else if (m == "PUT") {
    ctx.verb = "update";
  } else if (m == "PATCH") {
    ctx.verb = "patch";
  } else if (m == "DELETE") {
    ctx.verb = ctx.info.name.empty() ? "deletecollection" : "delete";
  } else {
    ctx.verb = m;
  }
  // Admission, which writes run through, may annotate the audit event.
  if (auditor_ != nullptr && (m == "POST" || m == "PUT" || m == "PATCH")) {
    ctx.audit_annotations = std::make_shared<std::map<std::string, std::string>>();
  }
  auto ex = std::make_shared<Exchange>(std::move(ctx), std::move(responder), metrics_, clock_, auditor_.get());
  // kube-apiserver's order: authentication, then the in-flight limit (a refused request is
  // audited as its user's), then authorization and the rest.
  if (authentication_) {
    if (absl::Status s = authentication_(ex->ctx); !s.ok()) return ex->Fail(s);
  }
  if (limiter_) {
    ex->ctx.inflight = limiter_->Admit(ex->ctx);
    if (ex->ctx.inflight == nullptr) return ex->TooManyRequests();
  }
  for (const Filter& f : filters_) {
    if (absl::Status s = f(ex->ctx); !s.ok()) {
      ex->Fail(s);
      return;
    }
  }
  if (!ex->ctx.info.is_resource) {
    HandleNonResource(ex);
  } else {
    HandleResource(ex);
  }
}

void ApiHandler::HandleNonResource(const std::shared_ptr<Exchange>& ex) {
  const auto& s = ex->ctx.request.segments;
  const std::string& accept = ex->ctx.request.Header("accept");
  if (ex->ctx.request.method != "GET" && ex->ctx.request.method != "HEAD") {
    ex->Fail(api::MethodNotAllowed(StrCat("the server does not allow this method on the requested resource")));
    return;
  }
  const registry::Catalog& catalog = registry_.catalog();
  if (s.size() == 1 && s[0] == "version") return ex->Reply(200, VersionJson());
  if (s.size() >= 1 && (s[0] == "healthz" || s[0] == "livez" || s[0] == "readyz")) {
    return ex->Reply(200, "ok", "text/plain; charset=utf-8");
  }
  if (s.size() == 1 && s[0] == "metrics") {
    return ex->Reply(200, metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
  }
  if (s.size() == 1 && s[0] == "api") {
    if (WantsAggregated(accept)) return ex->Reply(200, json::Serialize(AggregatedDiscovery(catalog, true)), kAggregatedContentType);
    return ex->ReplyJson(200, ApiVersions(server_address_));
  }
  if (s.size() == 1 && s[0] == "apis") {
    if (WantsAggregated(accept)) return ex->Reply(200, json::Serialize(AggregatedDiscovery(catalog, false)), kAggregatedContentType);
    return ex->ReplyJson(200, ApiGroupList(catalog));
  }
  if (s.size() == 2 && s[0] == "api") {
    json::Value list = ApiResourceList(catalog, "", s[1]);
    if (!list.is_null()) return ex->ReplyJson(200, list);
  }
  if (s.size() == 2 && s[0] == "apis") {
    json::Value g = ApiGroup(catalog, s[1]);
    if (!g.is_null()) return ex->ReplyJson(200, g);
  }
  if (s.size() == 3 && s[0] == "apis") {
    json::Value list = ApiResourceList(catalog, s[1], s[2]);
    if (!list.is_null()) return ex->ReplyJson(200, list);
  }
  if (s.size() == 2 && s[0] == "openapi" && s[1] == "v2") {
    if (accept.find("protobuf") != std::string::npos) {
      // An empty protobuf Document: kubectl then validates nothing client-side and leaves
      // validation to the server (fieldValidation), which knows the schemas.
      return ex->Reply(200, "", kOpenApiV2ProtoContentType);
    }
    return ex->ReplyJson(200, OpenApiV2Document(catalog, *schemas_));
  }
  if (s.size() == 2 && s[0] == "openapi" && s[1] == "v3") return ex->ReplyJson(200, OpenApiV3Root(catalog));
  if (s.size() >= 4 && s[0] == "openapi" && s[1] == "v3") {
    std::string gv;
    for (size_t i = 2; i < s.size(); ++i) gv += (i > 2 ? "/" : "") + s[i];
    json::Value doc = OpenApiV3Document(catalog, *schemas_, gv);
    if (!doc.is_null()) return ex->ReplyJson(200, doc);
  }
  ex->Fail(api::PathNotFound());
}

void ApiHandler::HandleResource(const std::shared_ptr<Exchange>& ex) {
  const RequestInfo& info = ex->ctx.info;
  const registry::ResourceType* type = registry_.catalog().Find(info.group, info.version, info.plural);
  if (type == nullptr) return ex->Fail(api::PathNotFound());
  if (type->namespaced == false && !info.ns.empty()) return ex->Fail(api::PathNotFound());
  const std::string& method = ex->ctx.request.method;
  const std::string& sub = info.subresource;
  if (type->review) {
    if (method != "POST" || !info.name.empty() || !sub.empty() || !review_handler_) {
      return ex->Fail(api::MethodNotAllowed(StrCat(method, " is not supported on ", type->plural)));
    }
    pool_.Submit([this, ex, type] { review_handler_(ex, *type); });
    return;
  }
  if (!sub.empty()) {
    // The catalog says which subresources exist and what they allow, as discovery shows them.
    auto found = type->FindSubresource(sub);
    if (!found) return ex->Fail(api::PathNotFound());
    const char* verb = method == "GET" || method == "HEAD" ? "get" : method == "POST" ? "create"
                       : method == "PUT" ? "update" : method == "PATCH" ? "patch" : "";
    if (std::find(found->verbs.begin(), found->verbs.end(), verb) == found->verbs.end()) {
      return ex->Fail(api::MethodNotAllowed(StrCat(method, " is not supported on ", type->plural, "/", sub)));
    }
  }
  if (type->namespaced && info.ns.empty() && !(method == "GET" && info.name.empty())) {
    // Writes and single-object reads of namespaced kinds need a namespace in the path.
    return ex->Fail(api::PathNotFound());
  }
  if (sub == "token") {
    if (!token_handler_) return ex->Fail(api::MethodNotAllowed("this server issues no ServiceAccount tokens: it has no signing key"));
    pool_.Submit([this, ex] { token_handler_(ex); });
    return;
  }
  if (sub == "scale") {
    pool_.Submit([this, ex, type] { endpoints::ServeScale(endpoints_, ex, *type); });
    return;
  }
  if (sub == "log") {
    pool_.Submit([this, ex, type] { endpoints::ServeLog(endpoints_, ex, *type); });
    return;
  }
  if (sub == "exec" || sub == "attach" || sub == "portforward") {
    pool_.Submit([this, ex, type] { endpoints::ServeConnect(endpoints_, ex, *type); });
    return;
  }
  if (method == "GET" || method == "HEAD") {
    if (ex->ctx.verb == "watch") {
      pool_.Submit([this, ex, type] { endpoints::ServeWatch(endpoints_, ex, *type); });
      return;
    }
    if (info.name.empty()) {
      pool_.Submit([this, ex, type] { endpoints::ServeList(endpoints_, ex, *type); });
      return;
    }
    return endpoints::ServeGet(endpoints_, ex, *type);
  }
  if (method == "DELETE") {
    if (info.name.empty()) return ex->Fail(api::MethodNotAllowed("deleting a collection is not supported"));
    pool_.Submit([this, ex, type] { endpoints::ServeDelete(endpoints_, ex, *type); });
    return;
  }
  if (method == "POST" || method == "PUT" || method == "PATCH") {
    if (method == "POST" && !info.name.empty() && sub != "binding" && sub != "eviction") {
      return ex->Fail(api::MethodNotAllowed("POST is not allowed on a named resource"));
    }
    if (method == "POST" && info.name.empty() && ex->ctx.request.Query("dryRun").empty()) {
      // Admission and encoding cost ~0.5 ms of CPU: on a network thread they would hold up every
      // request that thread has read meanwhile (under a burst of creates, the scheduler's writes
      // waited behind dozens of them). On a pool they share the cores fairly.
      ThreadPool& pool = registry_.CreateMayWaitForCommit(info.ns) ? pool_ : admission_pool_;
      pool.Submit([this, ex, type] { endpoints::ServeCreate(endpoints_, ex, *type); });
      return;
    }
    if (method != "POST" && info.name.empty()) return ex->Fail(api::MethodNotAllowed("a name is required"));
    pool_.Submit([this, ex, type] { endpoints::ServeWrite(endpoints_, ex, *type); });
    return;
  }
  ex->Fail(api::MethodNotAllowed(StrCat("method ", method, " is not supported")));
}

}  // namespace berth::apiserver::server
