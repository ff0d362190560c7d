#include "kubelet-like-agent/node/heartbeat.h"

#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::agent {

NodeHeartbeat::NodeHeartbeat(client::ApiClient& api, std::vector<NodeConfig> nodes, std::function<MachineInfo()> machine,
                             HeartbeatOptions options, const Clock& clock)
    : api_(api), nodes_(std::move(nodes)), machine_(std::move(machine)), options_(options), clock_(clock) {}

NodeHeartbeat::~NodeHeartbeat() { Stop(); }

absl::Status NodeHeartbeat::Register(const NodeConfig& config) {
  MachineInfo machine = machine_();
  json::Value node = BuildNode(config, machine, clock_.Now());
  auto created = api_.Create(client::resources::kNodes, "", node);
  if (created.ok()) {
    if (const json::Value* c = created->Get({"status", "conditions"})) conditions_[config.name] = *c;
    return absl::OkStatus();
  }
  if (created.status().code() != absl::StatusCode::kAlreadyExists) return created.status();
  // Known from an earlier run: as the kubelet does, --node-labels and --register-with-taints
  // applied only at registration (labels and taints are the administrator's since, and
  // NodeRestriction refuses a node changing its taints); only the labels that describe the
  // machine are kept true, and the status refreshed.
  auto existing = api_.Get(client::resources::kNodes, "", config.name);
  if (!existing.ok()) return existing.status();
  json::Value next = *existing;
  for (const char* key : {"kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os",
                          "beta.kubernetes.io/arch"}) {
    if (const json::Value* want = node.Get({"metadata", "labels", key})) next["metadata"].Ensure({"labels"}).Set(key, *want);
  }
  for (const auto& [k, v] : config.annotations) next["metadata"].Ensure({"annotations"}).Set(k, v);
  auto updated = api_.Update(client::resources::kNodes, next);
  if (!updated.ok()) return updated.status();
  json::Value with_status = *updated;
  json::Value status = BuildNodeStatus(config, machine, clock_.Now());
  if (const json::Value* c = existing->Get({"status", "conditions"})) KeepTransitionTimes(status, *c);
  with_status.Set("status", std::move(status));
  auto reported = api_.UpdateStatus(client::resources::kNodes, with_status);
  if (!reported.ok()) return reported.status();
  if (const json::Value* c = reported->Get({"status", "conditions"})) conditions_[config.name] = *c;
  return absl::OkStatus();
}

absl::Status NodeHeartbeat::RegisterAll() {
  for (const NodeConfig& n : nodes_) {
    if (absl::Status s = Register(n); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status NodeHeartbeat::RenewLease(const std::string& node) {
  std::string now = FormatRfc3339Nano(clock_.Now());
  // MicroTime: microseconds, as Kubernetes writes renewTime.
  now = now.substr(0, now.size() - 4) + "Z";
  auto it = leases_.find(node);
  if (it != leases_.end()) {
    json::Value next = it->second;
    next.Ensure({"spec"}).Set("renewTime", now);
    auto updated = api_.Update(client::resources::kLeases, next);
    if (updated.ok()) {
      it->second = *std::move(updated);
      return absl::OkStatus();
    }
    leases_.erase(it);
    if (updated.status().code() != absl::StatusCode::kAborted && updated.status().code() != absl::StatusCode::kNotFound) {
      return updated.status();
    }
  }
  auto existing = api_.Get(client::resources::kLeases, "kube-node-lease", node);
  if (existing.ok()) {
    json::Value next = *existing;
    next.Ensure({"spec"}).Set("renewTime", now);
    next["spec"].Set("holderIdentity", node);
    next["spec"].Set("leaseDurationSeconds", options_.lease_duration_seconds);
    auto updated = api_.Update(client::resources::kLeases, next);
    if (!updated.ok()) return updated.status();
    leases_[node] = *std::move(updated);
    return absl::OkStatus();
  }
  if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();
  json::Value lease = json::Value::MakeObject();
  lease.Ensure({"metadata"}).Set("name", node);
  lease.Ensure({"spec"}).Set("holderIdentity", node);
  lease["spec"].Set("leaseDurationSeconds", options_.lease_duration_seconds);
  lease["spec"].Set("renewTime", now);
  auto created = api_.Create(client::resources::kLeases, "kube-node-lease", lease);
  if (!created.ok()) return created.status();
  leases_[node] = *std::move(created);
  return absl::OkStatus();
}

void NodeHeartbeat::RenewLeases() {
  for (const NodeConfig& n : nodes_) {
    if (absl::Status s = RenewLease(n.name); !s.ok()) {
      BERTH_LOG(Warning, "agent.node", "Lease renewal failed", "node", n.name, "error", s.ToString());
    }
  }
}

void NodeHeartbeat::UpdateStatuses() {
  MachineInfo machine = machine_();
  for (const NodeConfig& n : nodes_) {
    json::Value patch = json::Value::MakeObject();
    json::Value status = BuildNodeStatus(n, machine, clock_.Now());
    if (auto prev = conditions_.find(n.name); prev != conditions_.end()) KeepTransitionTimes(status, prev->second);
    patch.Set("status", std::move(status));
    auto r = api_.Patch(client::resources::kNodes, "", n.name, patch, "application/merge-patch+json", "status");
    if (r.ok()) {
      if (const json::Value* c = r->Get({"status", "conditions"})) conditions_[n.name] = *c;
    }
    if (r.status().code() == absl::StatusCode::kNotFound) {
      (void)Register(n);  // someone deleted our Node: register again, as the kubelet does
    } else if (!r.ok()) {
      BERTH_LOG(Warning, "agent.node", "Node status update failed", "node", n.name, "error", r.status().ToString());
    }
  }
}

void NodeHeartbeat::Start() {
  thread_ = std::thread([this] {
    absl::Time last_status = clock_.Now();
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stopping_) {
      lock.unlock();
      RenewLeases();
      if (clock_.Now() - last_status >= options_.status_interval) {
        UpdateStatuses();
        last_status = clock_.Now();
      }
      lock.lock();
      stop_cv_.wait_for(lock, absl::ToChronoNanoseconds(options_.lease_interval), [this] { return stopping_; });
    }
  });
}

void NodeHeartbeat::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace berth::agent
