#include "apiserver/endpoints/exchange.h"

#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

Exchange::Exchange(RequestContext ctx, std::shared_ptr<http::Responder> responder, server::Metrics& metrics,
                   const Clock& clock)
    : ctx(std::move(ctx)), responder_(std::move(responder)), metrics_(metrics), clock_(clock) {}

void Exchange::Reply(int code, std::string body, std::string content_type, const std::vector<std::string>& warnings) {
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

void Exchange::ReplyJson(int code, const json::Value& v, const std::vector<std::string>& warnings) {
  Reply(code, json::Serialize(v), "application/json", warnings);
}

void Exchange::Fail(const absl::Status& status) {
  api::HttpError e = api::ToHttp(status);
  if (e.code >= 500) {
    BERTH_LOG(Error, "apiserver", "Request failed", "verb", ctx.verb, "path", ctx.request.path, "error", status.ToString());
  }
  Reply(e.code, json::Serialize(e.body));
}

std::shared_ptr<http::Stream> Exchange::Stream(std::string content_type) {
  Record(200);
  return responder_->StartStream(200, std::move(content_type), {{"Cache-Control", "no-cache, private"}});
}

void Exchange::Relay(std::string host, int port, std::string request_head, const http::RelayTls* tls) {
  Record(101);
  responder_->Relay(std::move(host), port, std::move(request_head), tls);
}

void Exchange::Record(int code) {
  double seconds = std::chrono::duration<double>(clock_.MonotonicNow() - ctx.start).count();
  std::string resource = ctx.info.is_resource ? ctx.info.plural : "";
  if (!ctx.info.subresource.empty()) resource += "/" + ctx.info.subresource;
  metrics_.ObserveRequest(ctx.verb, resource, code, seconds);
}

}  // namespace berth::apiserver::endpoints
