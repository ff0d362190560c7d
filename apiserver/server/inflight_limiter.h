#pragma once
// File: apiserver/server/inflight_limiter.h
// kube-apiserver's --max-requests-inflight / --max-mutating-requests-inflight: past the limit a
// request is answered 429 with `Retry-After: 1` before any work is done (client-go waits and
// retries). Long-running requests (watches, followed logs, exec/attach/port-forward) are not
// counted, as upstream.

#include <atomic>
#include <memory>

#include "apiserver/endpoints/exchange.h"

namespace berth::apiserver::server {

class InflightLimiter {
 public:
  // 0 disables a limit.
  InflightLimiter(int max_readonly, int max_mutating) : max_readonly_(max_readonly), max_mutating_(max_mutating) {}

  // A token that holds the request's place until it is destroyed (with the request), or
  // nullptr when the request must be refused. Long-running requests get an empty token.
  std::shared_ptr<void> Admit(const endpoints::RequestContext& ctx);
  static bool LongRunning(const endpoints::RequestContext& ctx);

  int readonly_inflight() const { return readonly_.load(); }
  int mutating_inflight() const { return mutating_.load(); }

 private:
  const int max_readonly_, max_mutating_;
  std::atomic<int> readonly_{0}, mutating_{0};
};

}  // namespace berth::apiserver::server
