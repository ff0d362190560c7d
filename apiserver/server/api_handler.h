#pragma once
// File: apiserver/server/api_handler.h
// The router: every request passes the filter chain (authentication, authorization; admission
// happens in the registry), then goes to a non-resource handler (version, health, metrics,
// discovery, OpenAPI) or to the endpoint of its verb (apiserver/endpoints/).
//
// Writes, lists and watch set-up run on `work_pool` (they may wait for a durable commit or read
// storage); reads of one object answer on the network thread. Creates that cannot wait for a
// commit (no ResourceQuota to charge in their namespace) are admitted on the small
// `admission_pool` instead: their commit completes asynchronously, so a few threads per core
// keep busy without the sleep and wake-up per request that a large pool of
// mostly idle threads costs.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "apiserver/audit/auditor.h"
#include "core/http/http.h"
#include "apiserver/server/inflight_limiter.h"
#include "apiserver/endpoints/endpoints.h"
#include "apiserver/registry/registry.h"
#include "apiserver/schema/validator.h"
#include "apiserver/server/metrics.h"
#include "apiserver/server/table/table.h"
#include "apiserver/server/request_info.h"
#include "apiserver/watch/watch_cache.h"
#include "core/concurrency/thread_pool.h"
#include "core/time/clock.h"

namespace berth::apiserver::server {

using endpoints::Exchange;
using endpoints::Filter;
using endpoints::RequestContext;

class ApiHandler {
 public:
  ApiHandler(registry::Registry& registry, watch::WatchCache& watch_cache,
             std::shared_ptr<const schema::SchemaSet> schemas, Metrics& metrics,
             ThreadPool& work_pool, ThreadPool& admission_pool, const Clock& clock);

  void SetServerAddress(std::string address) { server_address_ = std::move(address); }
  void SetAgentTls(http::RelayTls tls) { endpoints_.agent_tls = std::move(tls); }
  void SetPermits(decltype(endpoints::Endpoints::permits) permits) { endpoints_.permits = std::move(permits); }
  void SetAuditor(std::unique_ptr<audit::Auditor> auditor) { auditor_ = std::move(auditor); }
  // Runs first on every request (it sets ctx.user), before the in-flight limit.
  void SetAuthentication(Filter filter) { authentication_ = std::move(filter); }
  // Run in order after the in-flight limit (authorization, ...).
  void AddFilter(Filter filter) { filters_.push_back(std::move(filter)); }
  // Answers POSTs to the kinds whose ResourceType::review is set.
  using ReviewHandler = std::function<void(const std::shared_ptr<Exchange>&, const registry::ResourceType&)>;
  void SetReviewHandler(ReviewHandler handler) { review_handler_ = std::move(handler); }
  // serviceaccounts/{name}/token; without one, 405.
  using TokenHandler = std::function<void(const std::shared_ptr<Exchange>&)>;
  void SetTokenHandler(TokenHandler handler) { token_handler_ = std::move(handler); }
  void SetInflightLimiter(InflightLimiter* limiter) { limiter_ = limiter; }
  void Handle(http::Request request, std::shared_ptr<http::Responder> responder);

  // The body a failed request gets (Status object), also used for 413 and unreadable bodies.
  static http::Response ErrorResponse(const absl::Status& status);

 private:
  void HandleNonResource(const std::shared_ptr<Exchange>& ex);
  // Routes to the endpoint of the verb (apiserver/endpoints/), on the work pool when it may
  // wait for storage.
  void HandleResource(const std::shared_ptr<Exchange>& ex);

  registry::Registry& registry_;
  watch::WatchCache& watch_cache_;
  std::shared_ptr<const schema::SchemaSet> schemas_;
  Metrics& metrics_;
  ThreadPool& pool_;
  ThreadPool& admission_pool_;
  const Clock& clock_;
  std::string server_address_;
  Filter authentication_;
  std::vector<Filter> filters_;
  ReviewHandler review_handler_;
  TokenHandler token_handler_;
  InflightLimiter* limiter_ = nullptr;
  endpoints::Endpoints endpoints_;
  std::unique_ptr<audit::Auditor> auditor_;
};

}  // namespace berth::apiserver::server
