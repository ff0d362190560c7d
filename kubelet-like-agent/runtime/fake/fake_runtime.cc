#include "kubelet-like-agent/runtime/fake/fake_runtime.h"

#include "absl/strings/numbers.h"
#include "core/strings/strings.h"

namespace berth::agent::runtime {

void FakeRuntime::EndLocked(ContainerStatus& s, int exit_code, std::string reason) {
  s.state = State::kExited;
  s.exit_code = exit_code;
  s.reason = reason.empty() ? (exit_code == 0 ? "Completed" : "Error") : std::move(reason);
  s.finished_at = clock_.Now();
}

absl::Status FakeRuntime::Start(const ContainerSpec& spec) {
  std::function<void(const ContainerStatus&)> callback;
  ContainerStatus ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_next_start_.ok()) {
      absl::Status s = fail_next_start_;
      fail_next_start_ = absl::OkStatus();
      return s;
    }
    ContainerStatus& s = containers_[spec.id];
    if (s.state == State::kRunning) return absl::AlreadyExistsError(StrCat("container ", spec.id, " is running"));
    std::string previous = s.log_path;
    int runs = std::max(s.runs, spec.previous_runs);
    s = ContainerStatus{};
    s.id = spec.id;
    s.pod_key = spec.pod_key;
    s.pod_uid = spec.pod_uid;
    s.container_name = spec.container_name;
    s.state = State::kRunning;
    s.pid = 1000 + ++starts_;
    s.started_at = clock_.Now();
    s.runs = runs + 1;
    s.log_path = spec.log_path;
    s.previous_log_path = previous;
    s.spec_hash = spec.spec_hash;
    for (const std::string& e : spec.env) {
      int code = 0;
      if (e.rfind("BERTH_FAKE_EXIT=", 0) == 0 && absl::SimpleAtoi(Sv(std::string_view(e).substr(16)), &code)) {
        EndLocked(s, code, "");
        ended = s;
        callback = on_exit_;
      }
    }
  }
  if (callback) callback(ended);
  return absl::OkStatus();
}

absl::Status FakeRuntime::Stop(std::string_view id, absl::Duration) {
  std::function<void(const ContainerStatus&)> callback;
  ContainerStatus ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second.state != State::kRunning) return absl::OkStatus();
    EndLocked(it->second, 143, "Error");
    it->second.signal = 15;
    ended = it->second;
    callback = on_exit_;
  }
  if (callback) callback(ended);
  return absl::OkStatus();
}

absl::Status FakeRuntime::Remove(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return absl::OkStatus();
  if (it->second.state == State::kRunning) return absl::FailedPreconditionError(StrCat("container ", id, " is running"));
  containers_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<ContainerStatus> FakeRuntime::Inspect(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return absl::NotFoundError(StrCat("no container ", id));
  return it->second;
}

absl::StatusOr<std::vector<ContainerStatus>> FakeRuntime::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ContainerStatus> out;
  for (const auto& [id, s] : containers_) out.push_back(s);
  return out;
}

absl::StatusOr<int> FakeRuntime::Exec(std::string_view id, const std::vector<std::string>&, absl::Duration) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end() || it->second.state != State::kRunning) {
    return absl::FailedPreconditionError(StrCat("container ", id, " is not running"));
  }
  return exec_result_;
}

void FakeRuntime::SetExitCallback(std::function<void(const ContainerStatus&)> on_exit) {
  std::lock_guard<std::mutex> lock(mu_);
  on_exit_ = std::move(on_exit);
}

void FakeRuntime::ExitForTest(std::string_view id, int exit_code, std::string reason) {
  std::function<void(const ContainerStatus&)> callback;
  ContainerStatus ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second.state != State::kRunning) return;
    EndLocked(it->second, exit_code, std::move(reason));
    ended = it->second;
    callback = on_exit_;
  }
  if (callback) callback(ended);
}

int FakeRuntime::starts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return starts_;
}

}  // namespace berth::agent::runtime
