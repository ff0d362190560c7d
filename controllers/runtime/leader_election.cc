#include "controllers/runtime/leader_election.h"

#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::controllers {
namespace {
std::string MicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}
}  // namespace

LeaderElector::LeaderElector(client::ApiClient& api, LeaderElectionConfig config, const Clock& clock)
    : api_(api), config_(std::move(config)), clock_(clock) {}

bool LeaderElector::TryAcquireOrRenew() {
  const auto& leases = client::resources::kLeases;
  absl::Time now = clock_.Now();
  int64_t duration_s = absl::ToInt64Seconds(config_.lease_duration);
  auto current = api_.Get(leases, config_.lease_namespace, config_.lease_name);
  if (!current.ok()) {
    if (current.status().code() != absl::StatusCode::kNotFound) return false;
    json::Value lease = json::Value::MakeObject();
    lease.Set("apiVersion", "coordination.k8s.io/v1");
    lease.Set("kind", "Lease");
    lease.Ensure({"metadata"}).Set("name", config_.lease_name);
    lease.Ensure({"metadata"}).Set("namespace", config_.lease_namespace);
    json::Value& spec = lease.Ensure({"spec"});
    spec.Set("holderIdentity", config_.identity);
    spec.Set("leaseDurationSeconds", duration_s);
    spec.Set("acquireTime", MicroTime(now));
    spec.Set("renewTime", MicroTime(now));
    spec.Set("leaseTransitions", 0);
    return api_.Create(leases, config_.lease_namespace, lease).ok();
  }
  json::Value lease = *std::move(current);
  std::string holder = lease.GetString({"spec", "holderIdentity"});
  std::string record = holder + "|" + lease.GetString({"spec", "renewTime"});
  auto mono = clock_.MonotonicNow();
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = mono;
  }
  json::Value& spec = lease.Ensure({"spec"});
  if (holder != config_.identity && !holder.empty()) {
    const json::Value* d = spec.Find("leaseDurationSeconds");
    int64_t held_for = d && d->is_int() ? d->as_int() : duration_s;
    if (mono - observed_at_ < std::chrono::seconds(held_for)) return false;  // still valid
    const json::Value* t = spec.Find("leaseTransitions");
    spec.Set("leaseTransitions", (t && t->is_int() ? t->as_int() : 0) + 1);
    spec.Set("acquireTime", MicroTime(now));
    BERTH_LOG(Info, "leaderelection", "Taking over an expired lease", "lease", config_.lease_name, "from", holder,
              "identity", config_.identity);
  } else if (holder.empty()) {
    spec.Set("acquireTime", MicroTime(now));
  }
  spec.Set("holderIdentity", config_.identity);
  spec.Set("leaseDurationSeconds", duration_s);
  spec.Set("renewTime", MicroTime(now));
  auto r = api_.Update(leases, lease);  // resourceVersion precondition: one winner
  if (!r.ok()) return false;
  observed_record_ = config_.identity + "|" + r->GetString({"spec", "renewTime"});
  observed_at_ = mono;
  return true;
}

bool LeaderElector::Acquire(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    if (TryAcquireOrRenew()) {
      BERTH_LOG(Info, "leaderelection", "Acquired lease", "lease", config_.lease_name, "identity", config_.identity);
      return true;
    }
    clock_.SleepFor(config_.retry_period);
  }
  return false;
}

bool LeaderElector::RenewUntil(const std::atomic<bool>& stop) {
  auto last_renew = clock_.MonotonicNow();
  while (!stop.load()) {
    clock_.SleepFor(config_.retry_period);
    if (stop.load()) break;
    if (TryAcquireOrRenew()) {
      last_renew = clock_.MonotonicNow();
    } else if (clock_.MonotonicNow() - last_renew > absl::ToChronoNanoseconds(config_.renew_deadline)) {
      BERTH_LOG(Error, "leaderelection", "Lost the lease", "lease", config_.lease_name, "identity", config_.identity);
      return false;
    }
  }
  return true;
}

}  // namespace berth::controllers
