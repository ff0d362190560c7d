#include "kubelet-like-agent/sync/lifecycle_hooks.h"

#include <algorithm>
#include <cmath>

#include "core/strings/strings.h"
#include "kubelet-like-agent/probes/prober.h"

namespace berth::agent {

absl::Status RunLifecycleHandler(const json::Value& handler, const json::Value& container, runtime::Runtime& runtime,
                                 const std::string& container_id, const std::string& pod_address, const Clock& clock,
                                 absl::Duration timeout) {
  if (const json::Value* sleep = handler.Find("sleep")) {
    const json::Value* seconds = sleep->Find("seconds");
    int64_t s = seconds && seconds->is_int() ? seconds->as_int() : 0;
    clock.SleepFor(std::min(absl::Seconds(std::max<int64_t>(0, s)), timeout));
    return absl::OkStatus();
  }
  // The prober runs exec, httpGet and tcpSocket handlers; a hook is one probe with the hook's
  // time limit.
  json::Value probe = handler;
  probe.Set("timeoutSeconds", std::max<int64_t>(1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(timeout)))));
  std::string detail;
  if (RunProbe(probe, container, runtime, container_id, pod_address, clock, &detail)) return absl::OkStatus();
  return absl::UnknownError(detail);
}

std::string HookFailureMessage(const json::Value& handler, const std::string& container, const std::string& pod_format,
                               const absl::Status& error) {
  std::string kind = "Exec";
  std::string what;
  if (const json::Value* exec = handler.Find("exec")) {
    std::vector<std::string> argv;
    if (const json::Value* cmd = exec->Find("command"); cmd && cmd->is_array()) {
      for (const json::Value& a : cmd->as_array()) argv.push_back(a.is_string() ? a.as_string() : "");
    }
    what = StrCat("([", Join(argv, " "), "])");
  } else if (handler.Find("httpGet")) {
    kind = "HTTP";
    what = StrCat("(", handler.GetString({"httpGet", "path"}, "/"), ")");
  } else if (handler.Find("tcpSocket")) {
    kind = "TCP";
  }
  return StrCat(kind, " lifecycle hook ", what, " for Container \"", container, "\" in Pod \"", pod_format,
                "\" failed - error: ", error.message());
}

}  // namespace berth::agent
