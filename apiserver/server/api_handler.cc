#include "apiserver/server/api_handler.h"

#include <algorithm>

#include <random>

#include "absl/strings/numbers.h"
#include "apiserver/server/body_codec.h"
#include "apiserver/server/discovery.h"
#include "apiserver/server/openapi.h"
#include "apiserver/registry/field_manager.h"
#include "apiserver/server/pod_logs.h"
#include "apiserver/server/table/table.h"
#include "apiserver/server/watch_sink.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/patch/patch.h"
#include "core/patch/strategic_merge.h"
#include "core/selector/field_selector.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

bool ParseBool(const std::string& s) { return s == "1" || s == "true" || s == "True" || s == "TRUE" || s == "t" || s == "T"; }

// dryRun is a list whose only valid value is "All". Anything else is refused before anything
// happens: a misspelt dry run must never become a real write or delete.
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

std::string VersionJson() {
  return R"v({"major":"1","minor":"32","gitVersion":"v1.32.4","gitCommit":"berth","gitTreeState":"clean","buildDate":"2026-11-25T00:00:00Z","goVersion":"none (C++20)","compiler":"gcc","platform":"linux/amd64"})v";
}

}  // namespace

// One request in flight: its context, its responder, and the metrics taken when it ends.
class ApiHandler::Exchange {
 public:
  Exchange(RequestContext ctx, std::shared_ptr<http::Responder> responder, Metrics& metrics,
           const Clock& clock)
      : ctx(std::move(ctx)), responder_(std::move(responder)), metrics_(metrics), clock_(clock) {}

  RequestContext ctx;

  void Reply(int code, std::string body, std::string content_type = "application/json",
             const std::vector<std::string>& warnings = {}) {
    http::Response r;
    r.status = code;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    for (const std::string& w : warnings) {
      r.headers.emplace_back("Warning", StrCat("299 - ", json::Quote(w)));
    }
    r.headers.emplace_back("Cache-Control", "no-cache, private");
    Record(code);
    responder_->Reply(std::move(r));
  }
  void ReplyJson(int code, const json::Value& v, const std::vector<std::string>& warnings = {}) {
    Reply(code, json::Serialize(v), "application/json", warnings);
  }
  void Fail(const absl::Status& status) {
    api::HttpError e = api::ToHttp(status);
    if (e.code >= 500) {
      BERTH_LOG(Error, "apiserver", "Request failed", "verb", ctx.verb, "path", ctx.request.path,
                "error", status.ToString());
    }
    Reply(e.code, json::Serialize(e.body));
  }
  std::shared_ptr<http::Stream> Stream(std::string content_type) {
    Record(200);
    return responder_->StartStream(200, std::move(content_type), {{"Cache-Control", "no-cache, private"}});
  }

 private:
  void Record(int code) {
    double seconds = std::chrono::duration<double>(clock_.MonotonicNow() - ctx.start).count();
    std::string resource = ctx.info.is_resource ? ctx.info.plural : "";
    if (!ctx.info.subresource.empty()) resource += "/" + ctx.info.subresource;
    metrics_.ObserveRequest(ctx.verb, resource, code, seconds);
  }

  std::shared_ptr<http::Responder> responder_;
  Metrics& metrics_;
  const Clock& clock_;
};

ApiHandler::ApiHandler(registry::Registry& registry, watch::WatchCache& watch_cache,
                       std::shared_ptr<const schema::SchemaSet> schemas, Metrics& metrics,
                       ThreadPool& work_pool, const Clock& clock)
    : registry_(registry), watch_cache_(watch_cache), schemas_(std::move(schemas)),
      metrics_(metrics), pool_(work_pool), clock_(clock) {}

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
  ctx.info = ResolveRequest(request.segments);
  ctx.request = std::move(request);
  const std::string& m = ctx.request.method;
  if (m == "GET" || m == "HEAD") {
    bool watching = ParseBool(ctx.request.Query("watch"));
    ctx.verb = watching ? "watch" : (ctx.info.is_resource && ctx.info.name.empty() ? "list" : "get");
  } else if (m == "POST") {
    ctx.verb = "create";
  } else if (m == "PUT") {
    ctx.verb = "update";
  } else if (m == "PATCH") {
    ctx.verb = "patch";
  } else if (m == "DELETE") {
    ctx.verb = "delete";
  } else {
    ctx.verb = m;
  }
  auto ex = std::make_shared<Exchange>(std::move(ctx), std::move(responder), metrics_, clock_);
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
  if (sub == "scale") {
    pool_.Submit([this, ex, type] { ServeScale(ex, *type); });
    return;
  }
  if (sub == "log") {
    pool_.Submit([this, ex, type] { ServeLog(ex, *type); });
    return;
  }
  if (method == "GET" || method == "HEAD") {
    if (ex->ctx.verb == "watch") {
      pool_.Submit([this, ex, type] { ServeWatch(ex, *type); });
      return;
    }
    if (info.name.empty()) {
      pool_.Submit([this, ex, type] { ServeList(ex, *type); });
      return;
    }
    auto obj = registry_.Get(*type, info.ns, info.name);
    if (!obj.ok()) return ex->Fail(obj.status());
    table::TableOptions tables = table::NegotiateTable(ex->ctx.request);
    if (tables.format != table::Format::kObject) {
      auto parsed = json::ParseStored(*obj);
      if (!parsed.ok()) return ex->Fail(parsed.status());
      return ReplyTable(ex, *type, {*std::move(parsed)}, "", "", tables);
    }
    return ex->Reply(200, *std::move(obj));
  }
  if (method == "DELETE") {
    if (info.name.empty()) return ex->Fail(api::MethodNotAllowed("deleting a collection is not supported"));
    pool_.Submit([this, ex, type] { ServeDelete(ex, *type); });
    return;
  }
  if (method == "POST" || method == "PUT" || method == "PATCH") {
    if (method == "POST" && !info.name.empty() && sub != "binding") {
      return ex->Fail(api::MethodNotAllowed("POST is not allowed on a named resource"));
    }
    if (method == "POST" && info.name.empty() && ex->ctx.request.Query("dryRun").empty()) {
      return ServeCreate(ex, *type);
    }
    if (method != "POST" && info.name.empty()) return ex->Fail(api::MethodNotAllowed("a name is required"));
    pool_.Submit([this, ex, type] { ServeWrite(ex, *type); });
    return;
  }
  ex->Fail(api::MethodNotAllowed(StrCat("method ", method, " is not supported")));
}

void ApiHandler::ServeList(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  registry::ListParams params;
  params.label_selector = req.Query("labelSelector");
  params.field_selector = req.Query("fieldSelector");
  params.continue_token = req.Query("continue");
  if (req.HasQuery("limit") && !req.Query("limit").empty()) {
    if (!absl::SimpleAtoi(req.Query("limit"), &params.limit)) return ex->Fail(api::BadRequest("limit must be an integer"));
  }
  auto page = registry_.List(type, ex->ctx.info.ns, params);
  if (!page.ok()) return ex->Fail(page.status());
  table::TableOptions tables = table::NegotiateTable(req);
  if (tables.format != table::Format::kObject) {
    std::vector<json::Value> objects;
    objects.reserve(page->items.size());
    for (const std::string& item : page->items) {
      auto parsed = json::ParseStored(item);
      if (!parsed.ok()) return ex->Fail(parsed.status());
      objects.push_back(*std::move(parsed));
    }
    tables.namespace_column = type.namespaced && ex->ctx.info.ns.empty();
    return ReplyTable(ex, type, objects, StrCat(page->revision), page->continue_token, tables);
  }
  std::string body;
  size_t total = 128;
  for (const auto& item : page->items) total += item.size() + 1;
  body.reserve(total);
  StrAppend(&body, "{\"kind\":\"", type.ListKind(), "\",\"apiVersion\":\"", type.ApiVersion(),
            "\",\"metadata\":{\"resourceVersion\":\"", page->revision, "\"");
  if (!page->continue_token.empty()) StrAppend(&body, ",\"continue\":\"", page->continue_token, "\"");
  body += "},\"items\":[";
  for (size_t i = 0; i < page->items.size(); ++i) {
    if (i) body += ',';
    body += page->items[i];
  }
  body += "]}";
  ex->Reply(200, std::move(body));
}

void ApiHandler::ReplyTable(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type,
                            const std::vector<json::Value>& objects, const std::string& resource_version,
                            const std::string& continue_token, const table::TableOptions& options) {
  json::Value t = table::BuildTable(type, objects, resource_version, continue_token, options, clock_.Now());
  if (options.format == table::Format::kText) return ex->Reply(200, table::RenderText(t, options), table::ContentType(options));
  ex->Reply(200, json::Serialize(t), table::ContentType(options));
}

void ApiHandler::ServeLog(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const RequestInfo& info = ex->ctx.info;
  auto pod_text = registry_.Get(type, info.ns, info.name);
  if (!pod_text.ok()) return ex->Fail(pod_text.status());
  auto pod = json::ParseStored(*pod_text);
  if (!pod.ok()) return ex->Fail(pod.status());
  const registry::ResourceType* nodes = registry_.catalog().Find("", "v1", "nodes");
  std::string node_name = pod->GetString({"spec", "nodeName"});
  json::Value node;
  if (!node_name.empty() && nodes != nullptr) {
    auto node_text = registry_.Get(*nodes, "", node_name);
    if (!node_text.ok()) return ex->Fail(node_text.status());
    auto parsed = json::ParseStored(*node_text);
    if (!parsed.ok()) return ex->Fail(parsed.status());
    node = *std::move(parsed);
  }
  auto target = ResolveLogTarget(*pod, node, ex->ctx.request);
  if (!target.ok()) return ex->Fail(target.status());
  if (!target->follow) {
    std::string body;
    std::atomic<bool> cancel{false};
    absl::Status s = FetchLog(*target, [&](std::string_view text) {
      body.append(text);
      return true;
    }, cancel);
    if (!s.ok()) return ex->Fail(s);
    return ex->Reply(200, std::move(body), "text/plain");
  }
  auto stream = ex->Stream("text/plain");
  std::atomic<bool> cancel{false};
  absl::Status s = FetchLog(*target, [&](std::string_view text) { return stream->Write(text); }, cancel);
  if (!s.ok()) stream->Write(StrCat("error: ", s.message(), "\n"));
  stream->Close();
}

void ApiHandler::ServeWatch(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  const RequestInfo& info = ex->ctx.info;
  watch::WatchFilter filter;
  filter.key_prefix = type.ListPrefix(info.ns);
  auto labels = selector::LabelSelector::Parse(req.Query("labelSelector"));
  if (!labels.ok()) return ex->Fail(api::BadRequest(Sv(labels.status().message())));
  auto fields = selector::FieldSelector::Parse(req.Query("fieldSelector"));
  if (!fields.ok()) return ex->Fail(api::BadRequest(Sv(fields.status().message())));
  filter.labels = *labels;
  filter.fields = *fields;
  std::string name = info.name;
  for (const auto& r : fields->requirements()) {
    if (r.field == "metadata.name" && r.equals) name = r.value;
  }
  if (!name.empty()) filter.exact_key = type.Key(info.ns, name);
  filter.bookmarks = ParseBool(req.Query("allowWatchBookmarks"));
  int64_t timeout = 0;
  if (req.HasQuery("timeoutSeconds") && !absl::SimpleAtoi(req.Query("timeoutSeconds"), &timeout)) {
    return ex->Fail(api::BadRequest("timeoutSeconds must be an integer"));
  }
  if (timeout <= 0) {
    // Kubernetes spreads watch lifetimes over 30-60 minutes so reconnects do not align.
    thread_local std::mt19937 rng{std::random_device{}()};
    timeout = 1800 + static_cast<int64_t>(rng() % 1800);
  }
  filter.deadline = clock_.MonotonicNow() + std::chrono::seconds(timeout);
  std::string rv = req.Query("resourceVersion");
  // An EventSource that reconnects says where it was with Last-Event-ID (the SSE event id).
  if (rv.empty() && !req.Header("last-event-id").empty()) rv = req.Header("last-event-id");
  uint64_t from = 0;
  if (!rv.empty() && rv != "0" && !absl::SimpleAtoi(rv, &from)) {
    return ex->Fail(api::BadRequest(StrCat("invalid resourceVersion \"", rv, "\"")));
  }
  registry::ListPage initial;
  bool send_initial = rv.empty() || rv == "0";
  if (send_initial) {
    registry::ListParams params;
    params.label_selector = req.Query("labelSelector");
    params.field_selector = req.Query("fieldSelector");
    if (!info.name.empty()) {
      params.field_selector = params.field_selector.empty()
                                  ? StrCat("metadata.name=", info.name)
                                  : StrCat(params.field_selector, ",metadata.name=", info.name);
    }
    auto page = registry_.List(type, info.ns, params);
    if (!page.ok()) return ex->Fail(page.status());
    initial = *std::move(page);
    from = initial.revision;
  } else {
    absl::Status valid = registry_.ValidateSelectors(type, req.Query("labelSelector"), req.Query("fieldSelector"));
    if (!valid.ok()) return ex->Fail(valid);
  }
  bool sse = req.Header("accept").find("text/event-stream") != std::string::npos;
  auto stream = ex->Stream(sse ? "text/event-stream" : "application/json");
  table::TableOptions tables = table::NegotiateTable(req);
  std::shared_ptr<watch::WatchSink> sink;
  if (sse) {
    sink = std::make_shared<SseWatchSink>(stream, type.kind, type.ApiVersion());
  } else if (tables.format == table::Format::kTable) {
    sink = table::MakeTableWatchSink(stream, type, tables, clock_);
  } else {
    sink = std::make_shared<JsonLinesWatchSink>(stream, type.kind, type.ApiVersion());
  }
  for (const std::string& item : initial.items) sink->Send(watch::EventType::kAdded, item, 0);
  absl::Status s = watch_cache_.Watch(from, std::move(filter), sink);
  if (!s.ok()) sink->Fail(s);
}

void ApiHandler::ServeWrite(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  const RequestInfo& info = ex->ctx.info;
  registry::WriteOptions opts;
  if (absl::Status s = ParseDryRun(req, opts.dry_run); !s.ok()) return ex->Fail(s);
  opts.field_validation = req.Query("fieldValidation");
  if (!opts.field_validation.empty() && opts.field_validation != "Strict" &&
      opts.field_validation != "Warn" && opts.field_validation != "Ignore") {
    return ex->Fail(api::BadRequest(StrCat("fieldValidation must be one of Strict, Warn, Ignore, got \"", opts.field_validation, "\"")));
  }
  opts.field_manager = req.Query("fieldManager");
  opts.force = ParseBool(req.Query("force"));
  registry::Subresource sub = info.subresource == "status" ? registry::Subresource::kStatus : registry::Subresource::kNone;
  const std::string& method = req.method;

  if (method == "PATCH") {
    auto decoded = DecodePatch(req, type);
    if (!decoded.ok()) return ex->Fail(decoded.status());
    if (decoded->type == registry::PatchType::kApply) {
      if (opts.field_manager.empty()) {
        return ex->Fail(api::Invalid(type.Target(info.name), {{"FieldValueRequired", "Required value: is required for apply patch", "fieldManager"}}));
      }
      // Apply creates what does not exist yet.
      if (!registry_.Get(type, info.ns, info.name).ok() && sub == registry::Subresource::kNone) {
        registry::ApplyRequest apply{opts.field_manager, opts.force, type.ApiVersion(), clock_.Now()};
        auto owned = registry::ApplyConfiguration(nullptr, decoded->patch, apply);
        if (!owned.ok()) return ex->Fail(api::BadRequest(Sv(owned.status().message())));
        json::Value body = *std::move(owned);
        body.Ensure({"metadata"}).Set("name", info.name);
        auto created = registry_.Create(type, info.ns, std::move(body), opts);
        if (!created.ok()) return ex->Fail(created.status());
        return ex->ReplyJson(201, created->object, created->warnings);
      }
    }
    auto r = registry_.Patch(type, info.ns, info.name, decoded->type, decoded->patch, sub, opts);
    if (!r.ok()) return ex->Fail(r.status());
    return ex->ReplyJson(200, r->object, r->warnings);
  }

  auto body = DecodeObject(req);
  if (!body.ok()) return ex->Fail(body.status());
  if (info.subresource == "binding") {
    absl::Status s = registry_.Bind(info.ns, info.name, *body, opts.dry_run);
    if (!s.ok()) return ex->Fail(s);
    json::Value ok = json::Value::MakeObject();
    ok.Set("kind", "Status");
    ok.Set("apiVersion", "v1");
    ok.Set("metadata", json::Value::MakeObject());
    ok.Set("status", "Success");
    ok.Set("code", 201);
    return ex->ReplyJson(201, ok);
  }
  if (info.subresource == "finalize") {
    json::Value patch = json::Value::MakeObject();
    const json::Value* f = body->Get({"spec", "finalizers"});
    patch.Ensure({"spec"}).Set("finalizers", f ? *f : json::Value::MakeArray());
    auto r = registry_.Patch(type, "", info.name, registry::PatchType::kMerge, patch, registry::Subresource::kNone, opts);
    if (!r.ok()) return ex->Fail(r.status());
    return ex->ReplyJson(200, r->object, r->warnings);
  }
  if (method == "POST") {
    auto r = registry_.Create(type, info.ns, *std::move(body), opts);
    if (!r.ok()) return ex->Fail(r.status());
    return ex->ReplyJson(201, r->object, r->warnings);
  }
  auto r = registry_.Update(type, info.ns, info.name, *std::move(body), sub, opts);
  if (!r.ok()) return ex->Fail(r.status());
  ex->ReplyJson(200, r->object, r->warnings);
}

void ApiHandler::ServeCreate(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  // Creates admit here on the network thread and commit asynchronously: no thread waits for
  // the group commit, and the answer is the stored bytes (no second serialization).
  const http::Request& req = ex->ctx.request;
  registry::WriteOptions opts;
  opts.field_validation = req.Query("fieldValidation");
  if (!opts.field_validation.empty() && opts.field_validation != "Strict" &&
      opts.field_validation != "Warn" && opts.field_validation != "Ignore") {
    return ex->Fail(api::BadRequest(StrCat("fieldValidation must be one of Strict, Warn, Ignore, got \"", opts.field_validation, "\"")));
  }
  opts.field_manager = req.Query("fieldManager");
  opts.force = ParseBool(req.Query("force"));
  auto body = DecodeObject(req);
  if (!body.ok()) return ex->Fail(body.status());
  registry_.CreateAsync(type, ex->ctx.info.ns, *std::move(body), opts,
                        [ex](absl::StatusOr<registry::CreatedObject> created) {
                          if (!created.ok()) return ex->Fail(created.status());
                          ex->Reply(201, std::move(created->json), "application/json", created->warnings);
                        });
}

void ApiHandler::ServeDelete(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  registry::DeleteOptions opts;
  json::Value body = json::Value::MakeObject();
  if (!Strip(req.body).empty()) {
    auto decoded = DecodeObject(req);
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
  auto r = registry_.Delete(type, ex->ctx.info.ns, ex->ctx.info.name, opts);
  if (!r.ok()) return ex->Fail(r.status());
  if (r->removed && !type.return_deleted_object) return ex->ReplyJson(200, SuccessStatus(type, r->object));
  ex->ReplyJson(200, r->object);
}

void ApiHandler::ServeScale(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  const RequestInfo& info = ex->ctx.info;
  if (req.method == "GET") {
    auto s = registry_.GetScale(type, info.ns, info.name);
    if (!s.ok()) return ex->Fail(s.status());
    return ex->ReplyJson(200, *s);
  }
  registry::WriteOptions opts;
  if (absl::Status s = ParseDryRun(req, opts.dry_run); !s.ok()) return ex->Fail(s);
  json::Value scale;
  if (req.method == "PUT") {
    auto body = DecodeObject(req);
    if (!body.ok()) return ex->Fail(body.status());
    scale = *std::move(body);
  } else if (req.method == "PATCH") {
    auto decoded = DecodePatch(req, type);
    if (!decoded.ok()) return ex->Fail(decoded.status());
    auto current = registry_.GetScale(type, info.ns, info.name);
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
  auto r = registry_.UpdateScale(type, info.ns, info.name, scale, opts);
  if (!r.ok()) return ex->Fail(r.status());
  ex->ReplyJson(200, *r);
}

}  // namespace berth::apiserver::server
