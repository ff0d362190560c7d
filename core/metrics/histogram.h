#pragma once
// File: core/metrics/histogram.h
// A Prometheus histogram (cumulative buckets, sum, count) rendered in the text format. Shared
// by the apiserver's /metrics and the controller-manager's.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace berth::metrics {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}
  void Observe(double v);
  // Appends the _bucket/_sum/_count lines for `name` with `labels` ("" or `a="b",c="d"`).
  void Render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Request/reconcile latency buckets, in seconds.
const std::vector<double>& LatencyBounds();

}  // namespace berth::metrics
