#pragma once
// File: kubelet-like-agent/init/descriptor_passing.h
// One byte and a few descriptors (SCM_RIGHTS) over a Unix socket: how the runtime opens an
// init's gate and asks the init zygote for an init. Shared by the agent and the static init,
// so plain system calls and errno, no absl.

#include <sys/types.h>

#include <cstddef>

namespace berth::agent {

// The most descriptors one message carries here.
constexpr size_t kMaxPassedDescriptors = 4;

// Sends `byte` with `count` (<= kMaxPassedDescriptors) descriptors, retrying on EINTR, without
// SIGPIPE. Returns what sendmsg returned (1 when sent).
ssize_t SendWithDescriptors(int socket, char byte, const int* fds, size_t count);

// Receives one byte and up to `max` (<= kMaxPassedDescriptors) descriptors (close-on-exec),
// retrying on EINTR. Returns what recvmsg returned (0 at end-of-file); `*count` is how many
// descriptors came (0 if none, or if the message carried anything but descriptors).
ssize_t ReceiveWithDescriptors(int socket, char* byte, int* fds, size_t max, size_t* count);

}  // namespace berth::agent
