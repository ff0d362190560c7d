#include "apiserver/server/inflight_limiter.h"

#include "apiserver/endpoints/endpoints.h"

namespace berth::apiserver::server {

bool InflightLimiter::LongRunning(const endpoints::RequestContext& ctx) {
  if (ctx.verb == "watch") return true;
  const std::string& sub = ctx.info.subresource;
  if (sub == "exec" || sub == "attach" || sub == "portforward" || sub == "proxy") return true;
  return sub == "log" && endpoints::ParseBool(ctx.request.Query("follow"));
}

std::shared_ptr<void> InflightLimiter::Admit(const endpoints::RequestContext& ctx) {
  if (LongRunning(ctx)) return std::make_shared<int>(0);
  const std::string& v = ctx.verb;
  bool readonly = v == "get" || v == "list" || v == "head";
  std::atomic<int>& count = readonly ? readonly_ : mutating_;
  int max = readonly ? max_readonly_ : max_mutating_;
  if (count.fetch_add(1) + 1 > max && max > 0) {
    count.fetch_sub(1);
    return nullptr;
  }
  return std::shared_ptr<void>(static_cast<void*>(&count), [](void* held) { static_cast<std::atomic<int>*>(held)->fetch_sub(1); });
}

}  // namespace berth::apiserver::server
