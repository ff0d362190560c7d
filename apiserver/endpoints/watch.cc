#include "apiserver/endpoints/endpoints.h"

// Watches: from a revision (or from a list when none is given), in the format the client
// accepts; the WatchCache delivers the events to the sink.

#include <random>

#include "absl/strings/numbers.h"
#include "apiserver/server/watch_sink.h"
#include "core/api/errors.h"
#include "core/selector/field_selector.h"
#include "core/selector/label_selector.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

void ServeWatch(const Endpoints& c, const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const http::Request& req = ex->ctx.request;
  const server::RequestInfo& info = ex->ctx.info;
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
  filter.deadline = c.clock.MonotonicNow() + std::chrono::seconds(timeout);
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
    auto page = c.registry.List(type, info.ns, params);
    if (!page.ok()) return ex->Fail(page.status());
    initial = *std::move(page);
    from = initial.revision;
  } else {
    absl::Status valid = c.registry.ValidateSelectors(type, req.Query("labelSelector"), req.Query("fieldSelector"));
    if (!valid.ok()) return ex->Fail(valid);
  }
  bool sse = req.Header("accept").find("text/event-stream") != std::string::npos;
  auto stream = ex->Stream(sse ? "text/event-stream" : "application/json");
  table::TableOptions tables = table::NegotiateTable(req);
  std::shared_ptr<watch::WatchSink> sink;
  if (sse) {
    sink = std::make_shared<server::SseWatchSink>(stream, type.kind, type.ApiVersion());
  } else if (tables.format == table::Format::kTable) {
    sink = table::MakeTableWatchSink(stream, type, tables, c.clock);
  } else {
    sink = std::make_shared<server::JsonLinesWatchSink>(stream, type.kind, type.ApiVersion());
  }
  for (const std::string& item : initial.items) sink->Send(watch::EventType::kAdded, item, 0);
  absl::Status s = c.watch_cache.Watch(from, std::move(filter), sink);
  if (!s.ok()) sink->Fail(s);
}

}  // namespace berth::apiserver::endpoints
