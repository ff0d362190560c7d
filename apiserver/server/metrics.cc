#include "apiserver/server/metrics.h"

#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {
const std::vector<double> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,   5,     10,  60};
}  // namespace

void Histogram::Observe(double v) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i]++;
  sum_ += v;
  count_++;
}

void Histogram::Render(std::string& out, const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    StrAppend(&out, name, "_bucket{", labels, sep, "le=\"", bounds_[i], "\"} ", cumulative, "\n");
  }
  cumulative += counts_.back();
  StrAppend(&out, name, "_bucket{", labels, sep, "le=\"+Inf\"} ", cumulative, "\n");
  std::string braces = labels.empty() ? "" : StrCat("{", labels, "}");
  StrAppend(&out, name, "_sum", braces, " ", sum_, "\n");
  StrAppend(&out, name, "_count", braces, " ", count_, "\n");
}

void Metrics::ObserveRequest(const std::string& verb, const std::string& resource, int code,
                             double seconds) {
  std::string base = StrCat("verb=\"", verb, "\",resource=\"", resource, "\"");
  Histogram* h;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_[StrCat(base, ",code=\"", code, "\"")]++;
    auto& slot = latency_[base];
    if (!slot) slot = std::make_unique<Histogram>(kLatencyBounds);
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
  for (const Gauge& g : gauges_) {
    StrAppend(&out, "# HELP ", g.name, " ", g.help, "\n# TYPE ", g.name, " gauge\n", g.name, " ", g.fn(), "\n");
  }
  return out;
}

}  // namespace berth::apiserver::server
