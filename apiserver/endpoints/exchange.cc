#include "apiserver/endpoints/exchange.h"

#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

Exchange::Exchange(RequestContext ctx, std::shared_ptr<http::Responder> responder, server::Metrics& metrics,
                   const Clock& clock, const audit::Auditor* auditor)
    : ctx(std::move(ctx)), responder_(std::move(responder)), metrics_(metrics), clock_(clock), auditor_(auditor) {}

void Exchange::Reply(int code, std::string body, std::string content_type, const std::vector<std::string>& warnings) {
  http::Response r;
  r.status = code;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  for (const std::string& w : warnings) {
    r.headers.emplace_back("Warning", StrCat("299 - ", json::Quote(w)));
  }
  r.headers.emplace_back("Cache-Control", "no-cache, private");
  if (!ctx.audit_id.empty()) r.headers.emplace_back("Audit-Id", ctx.audit_id);
  Record(code, "ResponseComplete", &r.body);
  responder_->Reply(std::move(r));
}

void Exchange::TooManyRequests() {
  http::Response r;
  r.status = 429;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "Too many requests, please try again later.\n";
  r.headers.emplace_back("Retry-After", "1");
  if (!ctx.audit_id.empty()) r.headers.emplace_back("Audit-Id", ctx.audit_id);
  Record(429, "ResponseComplete", nullptr);
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
  Record(200, "ResponseStarted", nullptr);
  std::vector<std::pair<std::string, std::string>> headers = {{"Cache-Control", "no-cache, private"}};
  if (!ctx.audit_id.empty()) headers.emplace_back("Audit-Id", ctx.audit_id);
  std::shared_ptr<http::Stream> stream = responder_->StartStream(200, std::move(content_type), std::move(headers));
  if (auditor_ != nullptr && stream != nullptr) {
    // The callback holds the exchange until the stream ends, then lets it go.
    stream->OnClosed([self = shared_from_this()] { self->Audit(200, "ResponseComplete", nullptr); });
  }
  return stream;
}

void Exchange::Relay(std::string host, int port, std::string request_head, const http::RelayTls* tls) {
  Record(101, "ResponseStarted", nullptr);
  responder_->Relay(std::move(host), port, std::move(request_head), tls);
}

void Exchange::Record(int code, const char* stage, const std::string* response_body) {
  double seconds = std::chrono::duration<double>(clock_.MonotonicNow() - ctx.start).count();
  std::string resource = ctx.info.is_resource ? ctx.info.plural : "";
  if (!ctx.info.subresource.empty()) resource += "/" + ctx.info.subresource;
  metrics_.ObserveRequest(ctx.verb, resource, code, seconds);
  Audit(code, stage, response_body);
}

void Exchange::Audit(int code, const char* stage, const std::string* response_body) {
  if (auditor_ == nullptr) return;
  audit::AuditRecord a;
  a.audit_id = ctx.audit_id;
  a.stage = stage;
  a.attributes.user = &ctx.user;
  a.attributes.verb = ctx.verb;
  a.attributes.resource_request = ctx.info.is_resource;
  a.attributes.api_group = ctx.info.group;
  a.attributes.resource = ctx.info.plural;
  a.attributes.subresource = ctx.info.subresource;
  a.attributes.ns = ctx.info.ns;
  a.attributes.name = ctx.info.name;
  a.attributes.path = ctx.request.path;
  a.api_version = ctx.info.version;
  a.request_uri = ctx.request.target;
  const std::string& remote = ctx.request.remote_address;
  a.source_ip = remote.substr(0, remote.rfind(':'));
  if (a.source_ip.size() > 2 && a.source_ip.front() == '[') a.source_ip = a.source_ip.substr(1, a.source_ip.size() - 2);
  a.user_agent = ctx.request.Header("user-agent");
  a.code = code;
  a.received = ctx.received;
  a.answered = clock_.Now();
  a.request_body = &ctx.request.body;
  a.response_body = response_body;
  a.annotations = ctx.audit_annotations.get();
  auditor_->Record(a);
}

}  // namespace berth::apiserver::endpoints
