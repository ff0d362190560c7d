#include "apiserver/endpoints/endpoints.h"

// GET of a collection: one consistent page, served as the stored bytes joined into a List, or
// as a Table when the client asks for one (kubectl get).

#include "absl/strings/numbers.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

void ServeList(const Endpoints& c, const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  registry::ListParams params;
  params.label_selector = req.Query("labelSelector");
  params.field_selector = req.Query("fieldSelector");
  params.continue_token = req.Query("continue");
  if (req.HasQuery("limit") && !req.Query("limit").empty()) {
    if (!absl::SimpleAtoi(req.Query("limit"), &params.limit)) return ex->Fail(api::BadRequest("limit must be an integer"));
  }
  auto page = c.registry.List(type, ex->ctx.info.ns, params);
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
    return ReplyTable(c, ex, type, objects, StrCat(page->revision), page->continue_token, tables);
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

void ReplyTable(const Endpoints& c, const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type,
                            const std::vector<json::Value>& objects, const std::string& resource_version,
                            const std::string& continue_token, const table::TableOptions& options) {
  json::Value t = table::BuildTable(type, objects, resource_version, continue_token, options, c.clock.Now());
  if (options.format == table::Format::kText) return ex->Reply(200, table::RenderText(t, options), table::ContentType(options));
  ex->Reply(200, json::Serialize(t), table::ContentType(options));
}

}  // namespace berth::apiserver::endpoints
