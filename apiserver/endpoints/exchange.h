#pragma once
// File: apiserver/endpoints/exchange.h
// One request in flight: what the filters and endpoints know of it (RequestContext), its
// responder, and the request metrics recorded when it is answered. Every answer goes through
// Reply/ReplyJson/Fail/Stream, so errors are rendered from the one table (core/api/errors.h)
// and every request is counted once.

#include "apiserver/auth/user_info.h"
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "apiserver/audit/auditor.h"
#include "apiserver/server/metrics.h"
#include "apiserver/server/request_info.h"
#include "core/http/http.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::apiserver::endpoints {

struct RequestContext {
  http::Request request;
  server::RequestInfo info;
  auth::UserInfo user{auth::kAnonymousUser, "", {auth::kUnauthenticatedGroup}, {}};
  std::string verb;  // Kubernetes verb: get, list, watch, create, update, patch, delete
  std::chrono::steady_clock::time_point start;
  absl::Time received;
  std::string audit_id;  // the Audit-Id header of the answer, the auditID of its event
  // The audit event's annotations (admission adds them); null when nothing is audited.
  std::shared_ptr<std::map<std::string, std::string>> audit_annotations;
  std::shared_ptr<void> inflight;  // the request's place in the in-flight limit, freed with it
};

// A step every request passes before its endpoint (authentication, authorization, ...).
using Filter = std::function<absl::Status(RequestContext&)>;

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  // `auditor` may be null: nothing is audited.
  Exchange(RequestContext ctx, std::shared_ptr<http::Responder> responder, server::Metrics& metrics,
           const Clock& clock, const audit::Auditor* auditor = nullptr);

  RequestContext ctx;

  // `warnings` become `Warning: 299` headers (kubectl prints them).
  void Reply(int code, std::string body, std::string content_type = "application/json",
             const std::vector<std::string>& warnings = {});
  void ReplyJson(int code, const json::Value& v, const std::vector<std::string>& warnings = {});
  // A Kubernetes Status with the code and reason of the one error table.
  void Fail(const absl::Status& status);
  // 429 as kube-apiserver answers past its in-flight limit: plain text, and a Retry-After hint
  // client-go honours before retrying.
  void TooManyRequests();
  // A streamed answer (watch, log follow): audited at ResponseStarted and, when the stream ends,
  // ResponseComplete, as kube-apiserver audits long-running requests. Needs the Exchange to be
  // owned by a shared_ptr.
  std::shared_ptr<http::Stream> Stream(std::string content_type);
  // Hands the connection to host:port (exec, attach, port-forward to the node's agent).
  void Relay(std::string host, int port, std::string request_head, const http::RelayTls* tls = nullptr);

 private:
  // Counts the request in the metrics and audits it.
  void Record(int code, const char* stage, const std::string* response_body);
  void Audit(int code, const char* stage, const std::string* response_body);

  std::shared_ptr<http::Responder> responder_;
  server::Metrics& metrics_;
  const Clock& clock_;
  const audit::Auditor* auditor_;
};

}  // namespace berth::apiserver::endpoints
