#pragma once
// File: kubelet-like-agent/sync/pod_memo.h
// What the sync loop remembers of a pod and its containers between passes: probe states,
// waiting reasons, back-off bookkeeping, and what the API said when this agent first saw the pod
// (for runs a reboot lost). Owned by PodSync; the status functions read it.

#include <map>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "core/json/value.h"
#include "kubelet-like-agent/network/pod_network.h"
#include "kubelet-like-agent/probes/prober.h"

namespace berth::agent {

struct ContainerMemo {
  ProbeState liveness, readiness, startup;
  bool probes_ready = false;
  std::string waiting_reason, waiting_message;
  json::Value last_termination;  // previous run's terminated state (lastState)
  int backoff_base_runs = 0;      // restarts before the last backoff reset
  absl::Time backoff_until = absl::InfinitePast();
  int64_t probed_pid = 0;         // the run the probe states belong to
  // What the API said of this container when this agent process first saw the pod. A run it
  // shows that the runtime has no record of was lost (a reboot took processes and records).
  json::Value reported;
  json::Value lost;               // the terminated state reported while the runtime has no record
  int lost_restarts = 0;          // restartCount to report with it
  int previous_runs = 0;          // runs before the loss: a restart continues the count
  int exit_reported_run = 0;      // the run whose end was last told as an Event
  std::string last_start_error;   // the last Failed event's message, told once per change
  std::string image_id;           // status imageID: the image's repo@digest name (containerd's form)
  std::string message_file;       // the host file mounted at terminationMessagePath for this run
  int message_run = 0;            // the run `termination_message` belongs to
  std::string termination_message;
};
struct PodMemo {
  std::string uid;
  std::map<std::string, ContainerMemo> containers;
  std::string start_time;
  bool deadline_exceeded = false;
  std::string volume_error;  // the last FailedMount told
  // The pod's network namespace and address, once set up (hostNetwork pods have none).
  std::optional<network::PodSandbox> sandbox;
  std::string network_error;  // the last FailedCreatePodSandBox told
  bool told_fields_not_applied = false;  // on an agent without the pod network
};

}  // namespace berth::agent
