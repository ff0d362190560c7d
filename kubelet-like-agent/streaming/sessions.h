#pragma once
// File: kubelet-like-agent/streaming/sessions.h
// The agent's side of exec, attach and port-forward: each session is a thread that bridges an
// upgraded client connection (WebSocket channels or SPDY streams) to a command in a container,
// to a container's main process, or to ports inside the pod. A client that leaves ends its
// session and kills what an exec started; the containers themselves are never touched, so an
// agent restart with open sessions leaves them running.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/http/http.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/runtime/runtime.h"
#include "kubelet-like-agent/streaming/remote_command.h"

namespace berth::agent::streaming {

struct ExecOptions {
  std::string container_id;
  runtime::ExecRequest request;
  bool stdout = true, stderr = true;
};

struct AttachOptions {
  std::string container_id;
  bool stdin = false, stdout = true, stderr = true;
};

// Where port-forward connects: each namespace file in turn ("" is the host's), to 127.0.0.1.
struct PortForwardTarget {
  std::vector<std::string> network_namespaces;
};

class StreamSessions {
 public:
  StreamSessions(runtime::Runtime& runtime, const Clock& clock) : runtime_(runtime), clock_(clock) {}
  ~StreamSessions();  // ends every session and waits for its thread

  void Exec(std::shared_ptr<http::Duplex> connection, RemoteCommandProtocol protocol, ExecOptions options);
  void Attach(std::shared_ptr<http::Duplex> connection, RemoteCommandProtocol protocol, AttachOptions options);
  // The Python client's framing: channel 2i is port i's data, 2i+1 its errors.
  void PortForwardChannels(std::shared_ptr<http::Duplex> connection, RemoteCommandProtocol protocol,
                           PortForwardTarget target, std::vector<uint16_t> ports);
  // kubectl's framing: SPDY/3.1 streams, plain or tunnelled in WebSocket messages.
  void PortForwardSpdy(std::shared_ptr<http::Duplex> connection, PortForwardTarget target);

  size_t active() const { return active_.load(); }

 private:
  struct Session;
  void Launch(std::function<void(Session&)> body, std::shared_ptr<http::Duplex> connection);
  void RunExec(Session& s, const RemoteCommandProtocol& protocol, const ExecOptions& options);
  void RunAttach(Session& s, const RemoteCommandProtocol& protocol, const AttachOptions& options);
  void RunPortForwardChannels(Session& s, const RemoteCommandProtocol& protocol, const PortForwardTarget& target,
                              const std::vector<uint16_t>& ports);
  void RunPortForwardSpdy(Session& s, const PortForwardTarget& target);

  runtime::Runtime& runtime_;
  const Clock& clock_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Session>> sessions_;
  std::atomic<size_t> active_{0};
};

// A TCP connection to 127.0.0.1:`port` from inside the first namespace that accepts it.
absl::StatusOr<int> ConnectInPod(const PortForwardTarget& target, uint16_t port);

}  // namespace berth::agent::streaming
