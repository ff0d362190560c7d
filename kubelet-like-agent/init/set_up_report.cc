#include "kubelet-like-agent/init/set_up_report.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace berth::agent::init {

void Die(const std::string& what) {
  std::string message = what + ": " + std::strerror(errno);
  std::fprintf(stderr, "berth-container-init: %s\n", message.c_str());
  std::string report = "E" + message;
  ssize_t ignored = write(kReadyFd, report.data(), report.size());
  (void)ignored;
  _exit(127);
}

}  // namespace berth::agent::init
