#include "kubelet-like-agent/probes/prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/strings/strings.h"

namespace berth::agent {
namespace {

int64_t IntOr(const json::Value& v, std::string_view key, int64_t fallback) {
  const json::Value* x = v.Find(key);
  return x && x->is_int() ? x->as_int() : fallback;
}

// A named port ("http") is looked up in the container's ports.
int ResolvePort(const json::Value* port, const json::Value& container) {
  if (port == nullptr) return -1;
  if (port->is_int()) return static_cast<int>(port->as_int());
  if (port->is_string()) {
    if (const json::Value* ports = container.Find("ports"); ports && ports->is_array()) {
      for (const json::Value& p : ports->as_array()) {
        if (p.GetString({"name"}) == port->as_string()) return static_cast<int>(IntOr(p, "containerPort", -1));
      }
    }
    try {
      return std::stoi(port->as_string());
    } catch (...) {
      return -1;
    }
  }
  return -1;
}

std::function<int(int, int)>& SocketFactory() {
  static auto* factory = new std::function<int(int, int)>();
  return *factory;
}

// Connects within `timeout`; the socket, or -1 with `detail` set.
int Connect(const std::string& host, int port, absl::Duration timeout, std::string* detail) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), StrCat(port).c_str(), &hints, &res) != 0 || res == nullptr) {
    *detail = StrCat("cannot resolve ", host);
    return -1;
  }
  // In the node's network namespace when the pod network lives in one (--node-netns).
  int fd = SocketFactory() ? SocketFactory()(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK)
                           : socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = fd < 0 ? -1 : connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (fd < 0) {
    *detail = "socket failed";
    return -1;
  }
  if (rc != 0 && errno != EINPROGRESS) {
    *detail = StrCat("dial tcp ", host, ":", port, ": ", std::strerror(errno));
    close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) {
    *detail = StrCat("dial tcp ", host, ":", port, ": i/o timeout");
    close(fd);
    return -1;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    *detail = StrCat("dial tcp ", host, ":", port, ": ", std::strerror(err));
    close(fd);
    return -1;
  }
  return fd;
}

bool HttpGet(const json::Value& action, const json::Value& container, const std::string& address,
             absl::Duration timeout, const Clock& clock, std::string* detail) {
  std::string host = action.GetString({"host"}, address);
  int port = ResolvePort(action.Find("port"), container);
  if (port <= 0) {
    *detail = "httpGet: no usable port";
    return false;
  }
  auto deadline = clock.MonotonicNow() + absl::ToChronoMilliseconds(timeout);
  int fd = Connect(host, port, timeout, detail);
  if (fd < 0) return false;
  std::string path = action.GetString({"path"}, "/");
  std::string request = StrCat("GET ", path, " HTTP/1.1\r\nHost: ", host, ":", port,
                               "\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n");
  if (const json::Value* headers = action.Find("httpHeaders"); headers && headers->is_array()) {
    for (const json::Value& h : headers->as_array()) StrAppend(&request, h.GetString({"name"}), ": ", h.GetString({"value"}), "\r\n");
  }
  request += "\r\n";
  size_t sent = 0;
  std::string response;
  char buf[1024];
  while (clock.MonotonicNow() < deadline) {
    short events = sent < request.size() ? POLLOUT : POLLIN;
    pollfd p{fd, events, 0};
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.MonotonicNow());
    int left = static_cast<int>(std::max<int64_t>(1, remaining.count()));
    if (poll(&p, 1, left) <= 0) break;
    if (events == POLLOUT) {
      ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
      continue;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
    if (response.find("\r\n") != std::string::npos) break;
  }
  close(fd);
  // "HTTP/1.1 200 OK"
  size_t space = response.find(' ');
  if (space == std::string::npos || response.size() < space + 4) {
    *detail = StrCat("Get \"http://", host, ":", port, path, "\": no answer within ", absl::FormatDuration(timeout));
    return false;
  }
  int code = std::atoi(response.c_str() + space + 1);
  if (code >= 200 && code < 400) return true;
  *detail = StrCat("HTTP probe failed with statuscode: ", code);
  return false;
}

}  // namespace

namespace {

std::string& GrpcHelper() {
  static std::string path;
  return path;
}

// One run of berth-grpc-probe: its exit code 0 is success; its output is the detail.
bool GrpcCheck(const std::string& address, const std::string& service, absl::Duration timeout, const Clock& clock,
               std::string* detail) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    *detail = StrCat("pipe: ", std::strerror(errno));
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::string helper = GrpcHelper(), ms = StrCat(absl::ToInt64Milliseconds(timeout));
  std::string service_arg = service, address_arg = address;
  char* argv[] = {helper.data(), address_arg.data(), service_arg.data(), ms.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, helper.c_str(), &actions, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    *detail = StrCat("running ", helper, ": ", std::strerror(rc));
    return false;
  }
  // The helper honours the deadline itself; a second of slack before it is killed.
  auto deadline = clock.MonotonicNow() + absl::ToChronoMilliseconds(timeout + absl::Seconds(1));
  std::string output;
  char buf[512];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.MonotonicNow()).count();
    if (left <= 0) break;
    struct pollfd p = {out[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    *detail = StrCat("timeout: health rpc did not complete within ", absl::FormatDuration(timeout));
    return false;
  }
  while (!output.empty() && output.back() == '\n') output.pop_back();
  *detail = output;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

void SetProbeSocketFactory(std::function<int(int domain, int type)> factory) { SocketFactory() = std::move(factory); }

void SetGrpcProbeHelper(const std::string& path) { GrpcHelper() = path; }

bool HasRunnableHandler(const json::Value& probe) {
  return probe.Find("exec") || probe.Find("httpGet") || probe.Find("tcpSocket") ||
         (probe.Find("grpc") && !GrpcHelper().empty());
}

bool RunProbe(const json::Value& probe, const json::Value& container, runtime::Runtime& runtime,
              const std::string& container_id, const std::string& pod_address, const Clock& clock,
              std::string* detail) {
  absl::Duration timeout = absl::Seconds(std::max<int64_t>(1, IntOr(probe, "timeoutSeconds", 1)));
  if (const json::Value* exec = probe.Find("exec")) {
    std::vector<std::string> argv;
    if (const json::Value* cmd = exec->Find("command"); cmd && cmd->is_array()) {
      for (const json::Value& a : cmd->as_array()) argv.push_back(a.is_string() ? a.as_string() : "");
    }
    auto code = runtime.Exec(container_id, argv, timeout);
    if (!code.ok()) {
      *detail = std::string(code.status().message());
      return false;
    }
    if (*code != 0) *detail = StrCat("command exited with ", *code);
    return *code == 0;
  }
  if (const json::Value* http = probe.Find("httpGet")) return HttpGet(*http, container, pod_address, timeout, clock, detail);
  if (const json::Value* tcp = probe.Find("tcpSocket")) {
    int port = ResolvePort(tcp->Find("port"), container);
    int fd = Connect(tcp->GetString({"host"}, pod_address), port, timeout, detail);
    if (fd < 0) return false;
    close(fd);
    return true;
  }
  if (const json::Value* grpc = probe.Find("grpc"); grpc && !GrpcHelper().empty()) {
    const json::Value* port = grpc->Find("port");
    return GrpcCheck(StrCat(pod_address, ":", port && port->is_int() ? port->as_int() : 0), grpc->GetString({"service"}),
                     timeout, clock, detail);
  }
  *detail = "probe has no handler (exec, httpGet, tcpSocket or grpc)";
  return false;
}

ProbeState::ProbeState(const json::Value& probe, absl::Time container_started, bool initially_ok)
    : probe_(probe), configured_(true), ok_(initially_ok) {
  success_threshold_ = static_cast<int>(std::max<int64_t>(1, IntOr(probe, "successThreshold", 1)));
  failure_threshold_ = static_cast<int>(std::max<int64_t>(1, IntOr(probe, "failureThreshold", 3)));
  period_ = absl::Seconds(std::max<int64_t>(1, IntOr(probe, "periodSeconds", 10)));
  next_ = container_started + absl::Seconds(IntOr(probe, "initialDelaySeconds", 0));
}

bool ProbeState::Record(bool success, absl::Time now) {
  next_ = now + period_;
  bool before = ok_;
  if (success) {
    failures_ = 0;
    if (++successes_ >= success_threshold_) ok_ = true;
  } else {
    successes_ = 0;
    if (++failures_ >= failure_threshold_) ok_ = false;
  }
  return before != ok_;
}

}  // namespace berth::agent
