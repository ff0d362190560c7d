// libFuzzer target: WebSocket frames from a hostile client, through the real server. One
// in-process server (core/http) answers the upgrade with v5.channel.k8s.io and decodes every
// message with the exec channel protocol, as the agent does; each input is sent as the bytes
// after the handshake, then the client half-closes and reads until the server ends. The server
// must neither crash nor hang (the read has a deadline) whatever the frames say: bad opcodes,
// unmasked or oversized frames, fragments, control frames with payloads, bad close codes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/http/http.h"
#include "kubelet-like-agent/streaming/remote_command.h"

namespace {

berth::http::Server* TheServer() {
  static std::unique_ptr<berth::http::Server> server = [] {
    berth::http::ServerOptions options;
    options.max_body_bytes = 1 << 16;  // small, so that oversized messages are reached
    auto s = berth::http::StartServer(options, [](berth::http::Request, std::shared_ptr<berth::http::Responder> resp) {
      auto ws = resp->AcceptWebSocket("v5.channel.k8s.io");
      if (!ws) return;
      std::weak_ptr<berth::http::Duplex> weak = ws;
      ws->Start({[weak](std::string m) {
                   berth::agent::streaming::RemoteCommandProtocol p{"v5.channel.k8s.io", 5, false};
                   auto decoded = berth::agent::streaming::DecodeChannelMessage(p, m);
                   auto d = weak.lock();
                   if (!d) return;
                   if (!decoded.ok()) return d->Close(1002);
                   if (decoded->channel == berth::agent::streaming::kResize) {
                     (void)berth::agent::streaming::ParseTerminalSize(decoded->data);
                   }
                   d->Send(berth::agent::streaming::EncodeChannelMessage(p, 1, decoded->data));
                 },
                 nullptr});
    });
    if (!s.ok()) {
      std::fprintf(stderr, "cannot start the server\n");
      std::abort();
    }
    return std::move(*s);
  }();
  return server.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int port = TheServer()->port();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
  std::string request =
      "GET /exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n";
  request.append(reinterpret_cast<const char*>(data), size);
  size_t at = 0;
  while (at < request.size()) {
    ssize_t n = send(fd, request.data() + at, request.size() - at, MSG_NOSIGNAL);
    if (n <= 0) break;
    at += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  char buf[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) {
      std::fprintf(stderr, "the server neither answered nor closed within 5 s\n");
      std::abort();
    }
    if (recv(fd, buf, sizeof buf, 0) <= 0) break;
  }
  close(fd);
  return 0;
}
