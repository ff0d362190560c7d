#pragma once
// File: kubelet-like-agent/init/set_up_report.h
// berth-container-init's report to the agent while it builds the container: fd 3, when open,
// says that set-up finished ("R", or "P" for a spare's preparation) or why it failed
// ("E<message>"). Start returns only after either, so the container is fully built when the
// agent reports it.

#include <string>

namespace berth::agent::init {

constexpr int kReadyFd = 3;

// Reports `what` with errno's text on fd 3 and stderr, and exits 127.
[[noreturn]] void Die(const std::string& what);

}  // namespace berth::agent::init
