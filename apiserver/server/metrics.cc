#include "apiserver/server/metrics.h"

#include "core/strings/strings.h"

namespace berth::apiserver::server {
void Metrics::ObserveRequest(const std::string& verb, const std::string& resource, int code,
                             double seconds) {
  std::string base = StrCat("verb=\"", verb, "\",resource=\"", resource, "\"");
  Histogram* h;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_[StrCat(base, ",code=\"", code, "\"")]++;
    auto& slot = latency_[base];
    if (!slot) slot = std::make_unique<Histogram>(metrics::LatencyBounds());
    h = slot.get();
  }
  h->Observe(seconds);
}

void Metrics::ObserveCommit(size_t batch, double seconds) {
  commit_latency_.Observe(seconds);
  commit_batch_.Observe(static_cast<double>(batch));
}

void Metrics::SetGaugeFunction(std::string name, std::string help, std::function<double()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(fn)});
}

std::string Metrics::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  out += "# HELP apiserver_request_total Requests by verb, resource and HTTP code.\n";
  out += "# TYPE apiserver_request_total counter\n";
  for (const auto& [labels, n] : requests_) StrAppend(&out, "apiserver_request_total{", labels, "} ", n, "\n");
  out += "# HELP apiserver_request_duration_seconds Request latency by verb and resource.\n";
  out += "# TYPE apiserver_request_duration_seconds histogram\n";
  for (const auto& [labels, h] : latency_) h->Render(out, "apiserver_request_duration_seconds", labels);
  out += "# HELP berth_storage_commit_duration_seconds Time of one synced write batch.\n";
  out += "# TYPE berth_storage_commit_duration_seconds histogram\n";
  commit_latency_.Render(out, "berth_storage_commit_duration_seconds", "");
  out += "# HELP berth_storage_commit_batch_size Mutations per synced write batch (group commit).\n";
  out += "# TYPE berth_storage_commit_batch_size histogram\n";
  commit_batch_.Render(out, "berth_storage_commit_batch_size", "");
  out += "# HELP berth_watch_delivery_seconds Commit to hand-over to each watcher's stream.\n";
  out += "# TYPE berth_watch_delivery_seconds histogram\n";
  watch_delivery_.Render(out, "berth_watch_delivery_seconds", "");
  out += "# HELP berth_authorization_duration_seconds Time to decide whether a request is authorized (RBAC).\n";
  out += "# TYPE berth_authorization_duration_seconds histogram\n";
  authorization_.Render(out, "berth_authorization_duration_seconds", "");
  for (const Gauge& g : gauges_) {
    StrAppend(&out, "# HELP ", g.name, " ", g.help, "\n# TYPE ", g.name, " gauge\n", g.name, " ", g.fn(), "\n");
  }
  return out;
}

}  // namespace berth::apiserver::server
