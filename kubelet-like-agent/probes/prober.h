#pragma once
// File: kubelet-like-agent/probes/prober.h
// Liveness, readiness and startup probes as the kubelet runs them: exec (inside the
// container, through the Runtime), httpGet (a status in [200, 400) succeeds) and tcpSocket
// (a connection succeeds), each bounded by timeoutSeconds; and the per-container bookkeeping
// of initialDelaySeconds, periodSeconds, successThreshold and failureThreshold.

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/json/value.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/runtime/runtime.h"

namespace berth::agent {

// True when `probe` has a handler the prober runs (exec, httpGet, tcpSocket, and grpc once
// SetGrpcProbeHelper named the helper).
bool HasRunnableHandler(const json::Value& probe);

// berth-grpc-probe, which gRPC probes run (the agent links no gRPC). Call once at start-up.
void SetGrpcProbeHelper(const std::string& path);

// Where httpGet and tcpSocket probes (and hooks) get their sockets: the node's network
// namespace when the pod network runs in one. Call once at start-up; unset: the agent's own.
void SetProbeSocketFactory(std::function<int(int domain, int type)> factory);

// Runs one probe once. OK(true) success, OK(false) failure (with `detail` saying why).
bool RunProbe(const json::Value& probe, const json::Value& container, runtime::Runtime& runtime,
              const std::string& container_id, const std::string& pod_address, const Clock& clock,
              std::string* detail);

// One probe of one container: when it is due and what its thresholds make of the results.
class ProbeState {
 public:
  ProbeState() = default;
  ProbeState(const json::Value& probe, absl::Time container_started, bool initially_ok);

  bool configured() const { return configured_; }
  bool Due(absl::Time now) const { return configured_ && now >= next_; }
  absl::Time next() const { return next_; }
  // Records a result; true when the verdict changed.
  bool Record(bool success, absl::Time now);
  bool ok() const { return ok_; }
  // failureThreshold consecutive failures (a startup probe that gives up).
  bool failed() const { return failures_ >= failure_threshold_; }
  const json::Value& probe() const { return probe_; }
  std::string last_detail;

 private:
  json::Value probe_;
  bool configured_ = false;
  bool ok_ = false;
  int successes_ = 0, failures_ = 0;
  int success_threshold_ = 1, failure_threshold_ = 3;
  absl::Duration period_ = absl::Seconds(10);
  absl::Time next_;
};

}  // namespace berth::agent
