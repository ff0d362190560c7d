#pragma once
// File: controllers/runtime/leader_election.h
// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
// spec.renewTime; a candidate takes the lease only after it has seen the same record unchanged
// for a whole lease duration (measured on its own monotonic clock, so clock skew between
// machines does not matter). Every write carries the lease's resourceVersion, so two
// candidates can never both win.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "core/client/api_client.h"
#include "core/time/clock.h"

namespace berth::controllers {

struct LeaderElectionConfig {
  std::string lease_namespace = "kube-system";
  std::string lease_name;
  std::string identity;
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
};

class LeaderElector {
 public:
  LeaderElector(client::ApiClient& api, LeaderElectionConfig config, const Clock& clock = RealClock::Get());

  // One attempt to acquire or renew. True when we hold the lease afterwards.
  bool TryAcquireOrRenew();
  // Blocks until we lead (true) or `stop` is set (false).
  bool Acquire(const std::atomic<bool>& stop);
  // Renews every retry period until `stop`; returns false as soon as a renewal could not be
  // made within the renew deadline (leadership lost: the caller must stop acting).
  bool RenewUntil(const std::atomic<bool>& stop);

 private:
  client::ApiClient& api_;
  const LeaderElectionConfig config_;
  const Clock& clock_;
  std::string observed_record_;  // holder + renewTime last seen
  std::chrono::steady_clock::time_point observed_at_{};
};

}  // namespace berth::controllers
