#pragma once
// File: apiserver/server/metrics.h
// Counters and histograms rendered in the Prometheus text format at /metrics.

#include <atomic>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/metrics/histogram.h"

namespace berth::apiserver::server {

using metrics::Histogram;

class Metrics {
 public:
  void ObserveRequest(const std::string& verb, const std::string& resource, int code, double seconds);
  void ObserveCommit(size_t batch, double seconds);
  void ObserveWatchDelivery(double seconds) { watch_delivery_.Observe(seconds); }
  void ObserveAuthorization(double seconds) { authorization_.Observe(seconds); }
  void SetGaugeFunction(std::string name, std::string help, std::function<double()> fn);
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> requests_;                   // labels -> count
  std::map<std::string, std::unique_ptr<Histogram>> latency_;  // labels -> histogram
  Histogram commit_latency_{{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};
  Histogram commit_batch_{{1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096}};
  Histogram watch_delivery_{{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.5}};
  Histogram authorization_{{0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005}};
  struct Gauge {
    std::string name, help;
    std::function<double()> fn;
  };
  std::vector<Gauge> gauges_;
};

}  // namespace berth::apiserver::server
