#include "apiserver/endpoints/endpoints.h"

// POST of a new object.

#include "apiserver/server/body_codec.h"

namespace berth::apiserver::endpoints {

void ServeCreate(const Endpoints& c, const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  // Creates admit here on a work-pool thread and commit asynchronously: no thread waits for the
  // group commit, and the answer is the stored bytes (no second serialization).
  const http::Request& req = ex->ctx.request;
  registry::WriteOptions opts;
  if (absl::Status s = ParseFieldOptions(ex->ctx, opts); !s.ok()) return ex->Fail(s);
  auto body = server::DecodeObject(req);
  if (!body.ok()) return ex->Fail(body.status());
  c.registry.CreateAsync(type, ex->ctx.info.ns, *std::move(body), opts,
                        [ex](absl::StatusOr<registry::CreatedObject> created) {
                          if (!created.ok()) return ex->Fail(created.status());
                          ex->Reply(201, std::move(created->json), "application/json", created->warnings);
                        });
}

}  // namespace berth::apiserver::endpoints
