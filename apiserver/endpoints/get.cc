#include "apiserver/endpoints/endpoints.h"

// GET of one object: the stored bytes as they are, or a one-row Table.

#include "core/json/codec.h"

namespace berth::apiserver::endpoints {

void ServeGet(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type) {
  const server::RequestInfo& info = ex->ctx.info;
  auto obj = c.registry.Get(type, info.ns, info.name);
  if (!obj.ok()) return ex->Fail(obj.status());
  table::TableOptions tables = table::NegotiateTable(ex->ctx.request);
  if (tables.format != table::Format::kObject) {
    auto parsed = json::ParseStored(*obj);
    if (!parsed.ok()) return ex->Fail(parsed.status());
    return ReplyTable(c, ex, type, {*std::move(parsed)}, "", "", tables);
  }
  ex->Reply(200, *std::move(obj));
}

}  // namespace berth::apiserver::endpoints
