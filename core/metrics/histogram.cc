#include "core/metrics/histogram.h"

#include "core/strings/strings.h"

namespace berth::metrics {

const std::vector<double>& LatencyBounds() {
  static const std::vector<double> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,   0.5,   1,      2.5,   5,    10,    60};
  return bounds;
}

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

}  // namespace berth::metrics
