#pragma once
// File: kubelet-like-agent/runtime/fake/fake_runtime.h
// A Runtime with no processes: containers "run" until stopped or until a test ends them. Used by
// unit tests (with a fake clock) and by hollow nodes (--runtime=fake), where thousands of pods
// must cost nothing. A container whose env has BERTH_FAKE_EXIT=<code> ends right after it
// starts with that code, so Jobs complete on hollow nodes too.

#include <map>
#include <mutex>

#include "core/time/clock.h"
#include "kubelet-like-agent/runtime/runtime.h"

namespace berth::agent::runtime {

class FakeRuntime final : public Runtime {
 public:
  explicit FakeRuntime(const Clock& clock = RealClock::Get()) : clock_(clock) {}

  absl::Status Start(const ContainerSpec& spec) override;
  absl::Status Stop(std::string_view id, absl::Duration grace) override;
  absl::Status Remove(std::string_view id) override;
  absl::StatusOr<ContainerStatus> Inspect(std::string_view id) override;
  absl::StatusOr<std::vector<ContainerStatus>> List() override;
  absl::StatusOr<int> Exec(std::string_view id, const std::vector<std::string>& argv, absl::Duration timeout) override;
  void SetExitCallback(std::function<void(const ContainerStatus&)> on_exit) override;

  // Test controls: end a running container; make exec probes answer `code`; fail the next Start.
  void ExitForTest(std::string_view id, int exit_code, std::string reason = "");
  // No processes: interactive exec, attach and port-forward are not available on a fake node.
  absl::StatusOr<ExecProcess> StartExec(std::string_view, const ExecRequest&) override {
    return absl::UnimplementedError("exec is not available on a node with the fake runtime");
  }
  void KillExec(const ExecProcess&) override {}
  absl::StatusOr<int> WaitExec(const ExecProcess&) override {
    return absl::UnimplementedError("exec is not available on a node with the fake runtime");
  }
  absl::StatusOr<std::string> NetworkNamespacePath(std::string_view) override {
    return absl::UnimplementedError("port-forward is not available on a node with the fake runtime");
  }
  absl::StatusOr<std::string> StdinPath(std::string_view) override {
    return absl::UnimplementedError("attach is not available on a node with the fake runtime");
  }
  void SetExecResultForTest(int code) { exec_result_ = code; }
  void FailNextStartForTest(absl::Status status) { fail_next_start_ = std::move(status); }
  int starts() const;

 private:
  void EndLocked(ContainerStatus& s, int exit_code, std::string reason);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, ContainerStatus, std::less<>> containers_;
  std::function<void(const ContainerStatus&)> on_exit_;
  int exec_result_ = 0;
  absl::Status fail_next_start_;
  int starts_ = 0;
};

}  // namespace berth::agent::runtime
