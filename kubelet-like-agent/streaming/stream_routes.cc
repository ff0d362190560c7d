#include "kubelet-like-agent/streaming/stream_routes.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "core/strings/strings.h"

namespace berth::agent::streaming {
namespace {

constexpr std::string_view kSpdyTunnel = "SPDY/3.1+portforward.k8s.io";

void Fail(const std::shared_ptr<http::Responder>& responder, int code, const std::string& message) {
  http::Response r;
  r.status = code;
  r.body = http::StatusJson(code, message);
  responder->Reply(std::move(r));
}

bool Flag(const http::Request& r, const char* name, bool fallback) {
  if (!r.HasQuery(name)) return fallback;
  std::string v = r.Query(name);
  return v == "true" || v == "1" || v == "True";
}

std::vector<runtime::ContainerStatus> PodContainers(runtime::Runtime& runtime, const std::string& pod_key) {
  std::vector<runtime::ContainerStatus> out;
  auto all = runtime.List();
  if (!all.ok()) return out;
  for (runtime::ContainerStatus& s : *all) {
    if (s.pod_key == pod_key && s.state == runtime::State::kRunning) out.push_back(std::move(s));
  }
  return out;
}

bool OffersProtocol(std::string_view offered, std::string_view protocol) {
  for (std::string_view part : Split(offered, ',')) {
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part == protocol) return true;
  }
  return false;
}

void ServeRemoteCommand(bool attach, const http::Request& request, const std::vector<std::string>& parts,
                        const std::shared_ptr<http::Responder>& responder, runtime::Runtime& runtime,
                        StreamSessions& sessions) {
  const std::string pod_key = parts[1] + "/" + parts[2];
  const std::string& container = parts[3];
  if (!request.websocket) {
    return Fail(responder, 400, StrCat(parts[0], " needs a WebSocket upgrade (v5.channel.k8s.io or v4.channel.k8s.io); "
                                       "SPDY is served for port-forward only"));
  }
  auto protocol = NegotiateRemoteCommand(request.Header("sec-websocket-protocol"));
  if (!protocol) {
    return Fail(responder, 400, StrCat("none of the offered protocols is supported: ", request.Header("sec-websocket-protocol")));
  }
  const runtime::ContainerStatus* found = nullptr;
  auto containers = PodContainers(runtime, pod_key);
  for (const auto& c : containers) {
    if (c.container_name == container) found = &c;
  }
  if (found == nullptr) {
    return Fail(responder, 404, StrCat("container ", container, " of pod ", pod_key, " is not running on this node"));
  }
  bool want_stdin = Flag(request, "stdin", false);
  bool want_stdout = Flag(request, "stdout", !attach);
  bool want_stderr = Flag(request, "stderr", !attach);
  bool tty = Flag(request, "tty", false);
  if (!want_stdin && !want_stdout && !want_stderr) {
    return Fail(responder, 400, "you must specify at least one of stdin, stdout, stderr");
  }
  if (attach) {
    if (want_stdin) {
      if (auto path = runtime.StdinPath(found->id); !path.ok()) {
        return Fail(responder, 400, StrCat("cannot attach to the stdin of container ", container, ": ", path.status().message()));
      }
    }
    auto conn = responder->AcceptWebSocket(protocol->name);
    if (conn == nullptr) return;
    return sessions.Attach(std::move(conn), *protocol, AttachOptions{found->id, want_stdin, want_stdout, want_stderr});
  }
  ExecOptions options;
  options.container_id = found->id;
  options.request.argv = request.QueryAll("command");
  options.request.tty = tty;
  options.request.stdin = want_stdin;
  options.stdout = want_stdout;
  options.stderr = want_stderr;
  if (options.request.argv.empty()) return Fail(responder, 400, "you must specify at least one command for the container");
  auto conn = responder->AcceptWebSocket(protocol->name);
  if (conn == nullptr) return;
  sessions.Exec(std::move(conn), *protocol, std::move(options));
}

void ServePortForward(const http::Request& request, const std::vector<std::string>& parts,
                      const std::shared_ptr<http::Responder>& responder, runtime::Runtime& runtime,
                      StreamSessions& sessions) {
  const std::string pod_key = parts[1] + "/" + parts[2];
  auto containers = PodContainers(runtime, pod_key);
  if (containers.empty()) return Fail(responder, 404, StrCat("pod ", pod_key, " has no running container on this node"));
  PortForwardTarget target;
  for (const auto& c : containers) {
    auto ns = runtime.NetworkNamespacePath(c.id);
    if (ns.ok()) target.network_namespaces.push_back(*ns);
  }
  if (target.network_namespaces.empty()) return Fail(responder, 400, "port-forward is not available for this pod");
  if (request.websocket) {
    std::string offered = request.Header("sec-websocket-protocol");
    if (OffersProtocol(offered, kSpdyTunnel)) {
      auto conn = responder->AcceptWebSocket(std::string(kSpdyTunnel));
      if (conn != nullptr) sessions.PortForwardSpdy(std::move(conn), std::move(target));
      return;
    }
    auto protocol = NegotiateRemoteCommand(offered);
    if (!protocol) return Fail(responder, 400, StrCat("none of the offered protocols is supported: ", offered));
    std::vector<uint16_t> ports;
    for (std::string_view p : Split(request.Query("ports"), ',')) {
      int port = 0;
      if (!absl::SimpleAtoi(absl::string_view(p.data(), p.size()), &port) || port <= 0 || port > 65535) {
        return Fail(responder, 400, StrCat("invalid port \"", p, "\" in ports"));
      }
      ports.push_back(static_cast<uint16_t>(port));
    }
    if (ports.empty()) return Fail(responder, 400, "query parameter \"ports\" is required");
    auto conn = responder->AcceptWebSocket(protocol->name);
    if (conn != nullptr) sessions.PortForwardChannels(std::move(conn), *protocol, std::move(target), std::move(ports));
    return;
  }
  if (absl::AsciiStrToLower(request.upgrade) == "spdy/3.1") {
    std::string version = request.Header("x-stream-protocol-version");
    if (!version.empty() && !OffersProtocol(version, "portforward.k8s.io")) {
      return Fail(responder, 403, StrCat("unable to upgrade: no common stream protocol in ", version));
    }
    auto conn = responder->AcceptUpgrade({{"Upgrade", "SPDY/3.1"}, {"X-Stream-Protocol-Version", "portforward.k8s.io"}});
    if (conn != nullptr) sessions.PortForwardSpdy(std::move(conn), std::move(target));
    return;
  }
  Fail(responder, 400, "port-forward needs a WebSocket or SPDY/3.1 upgrade");
}

}  // namespace

bool ServeStreamRequest(const http::Request& request, const std::shared_ptr<http::Responder>& responder,
                        runtime::Runtime& runtime, StreamSessions& sessions) {
  std::vector<std::string> parts;
  for (const std::string& s : request.segments) {
    if (!s.empty()) parts.push_back(s);
  }
  if (parts.empty()) return false;
  if (parts[0] == "exec" || parts[0] == "attach") {
    if (parts.size() != 4) {
      Fail(responder, 404, StrCat("expected /", parts[0], "/{namespace}/{pod}/{container}"));
      return true;
    }
    ServeRemoteCommand(parts[0] == "attach", request, parts, responder, runtime, sessions);
    return true;
  }
  if (parts[0] == "portForward") {
    if (parts.size() != 3) {
      Fail(responder, 404, "expected /portForward/{namespace}/{pod}");
      return true;
    }
    ServePortForward(request, parts, responder, runtime, sessions);
    return true;
  }
  return false;
}

}  // namespace berth::agent::streaming
