#include "kubelet-like-agent/init/descriptor_passing.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

namespace berth::agent {

ssize_t SendWithDescriptors(int socket, char byte, const int* fds, size_t count) {
  if (count > kMaxPassedDescriptors) {
    errno = EINVAL;
    return -1;
  }
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(kMaxPassedDescriptors * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (count > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(count * sizeof(int));
    std::memcpy(CMSG_DATA(cm), fds, count * sizeof(int));
  }
  ssize_t n;
  while ((n = sendmsg(socket, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n;
}

ssize_t ReceiveWithDescriptors(int socket, char* byte, int* fds, size_t max, size_t* count) {
  *count = 0;
  if (max > kMaxPassedDescriptors) {
    errno = EINVAL;
    return -1;
  }
  iovec iov{byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(kMaxPassedDescriptors * sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(max * sizeof(int));
  ssize_t n;
  while ((n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  cmsghdr* cm = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr;
  if (cm != nullptr && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len >= CMSG_LEN(0)) {
    size_t got = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    if (got <= max) {
      std::memcpy(fds, CMSG_DATA(cm), got * sizeof(int));
      *count = got;
    }
  }
  return n;
}

}  // namespace berth::agent
