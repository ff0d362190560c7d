#pragma once
// File: kubelet-like-agent/network/programming_latency.h
// kube-proxy's network programming latency (kubeproxy_network_programming_duration_seconds): for
// each EndpointSlice change the Service proxy puts in place, the time from the change that
// triggered it (the endpointslice controller's endpoints.kubernetes.io/last-change-trigger-time)
// to the moment the node's rules hold it. A change is measured once, by the first sync after
// it; changes from before the agent started are not its to measure.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/json/value.h"
#include "core/metrics/histogram.h"

namespace berth::agent::network {

class ProgrammingLatency {
 public:
  explicit ProgrammingLatency(absl::Time started);
  // After a sync that succeeded at `now` with these slices in place.
  void Applied(const std::vector<const json::Value*>& slices, absl::Time now);
  // The histogram in Prometheus' text format.
  void Render(std::string& out) const;

 private:
  const absl::Time started_;
  std::mutex mu_;
  std::map<std::string, std::string> applied_;  // namespace/name -> the trigger time in place
  metrics::Histogram histogram_;
};

}  // namespace berth::agent::network
