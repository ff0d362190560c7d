#include "kubelet-like-agent/streaming/sessions.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <optional>

#include "core/log/log.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/init/log_writer.h"
#include "kubelet-like-agent/streaming/fd_bridge.h"
#include "kubelet-like-agent/streaming/spdy.h"

namespace berth::agent::streaming {
namespace {

std::string StatusReason(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound: return "NotFound";
    case absl::StatusCode::kInvalidArgument: return "BadRequest";
    case absl::StatusCode::kFailedPrecondition: return "BadRequest";
    default: return "InternalError";
  }
}

int ConnectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

}  // namespace

absl::StatusOr<int> ConnectInPod(const PortForwardTarget& target, uint16_t port) {
  int last_error = ECONNREFUSED;
  for (const std::string& ns : target.network_namespaces) {
    int result = -EINVAL;
    if (ns.empty()) {
      result = ConnectLoopback(port);
    } else {
      // Namespaces are per thread: a short-lived thread enters the pod's, makes the socket
      // (which stays in that namespace) and leaves.
      std::thread t([&] {
        int nsfd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) {
          result = -errno;
          return;
        }
        if (setns(nsfd, CLONE_NEWNET) != 0) {
          result = -errno;
          close(nsfd);
          return;
        }
        close(nsfd);
        result = ConnectLoopback(port);
      });
      t.join();
    }
    if (result >= 0) return result;
    last_error = -result;
  }
  return absl::UnavailableError(StrCat("dial tcp4 127.0.0.1:", port, ": connect: ", std::strerror(last_error)));
}

struct StreamSessions::Session {
  std::shared_ptr<http::Duplex> connection;
  std::unique_ptr<FdBridge> bridge;
  std::thread thread;
  std::atomic<bool> done{false};
  std::weak_ptr<Session> self;  // for connection callbacks, which may outlive the session's thread
  std::mutex mu;
  std::function<void()> on_client_gone;  // under mu
  bool client_gone = false;              // under mu

  // Runs `f` (now, if the client already left) when the client goes away.
  void WhenClientGone(std::function<void()> f) {
    std::unique_lock<std::mutex> lock(mu);
    if (client_gone) {
      lock.unlock();
      f();
      return;
    }
    on_client_gone = std::move(f);
  }
  void ClientGone() {
    std::function<void()> f;
    {
      std::lock_guard<std::mutex> lock(mu);
      client_gone = true;
      f = std::move(on_client_gone);
    }
    if (f) f();
    bridge->Stop();
  }
  bool Gone() {
    std::lock_guard<std::mutex> lock(mu);
    return client_gone;
  }
};

StreamSessions::~StreamSessions() {
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions.swap(sessions_);
  }
  for (auto& s : sessions) {
    s->ClientGone();
    s->connection->Close(1001);
  }
  for (auto& s : sessions) {
    if (s->thread.joinable()) s->thread.join();
  }
}

void StreamSessions::Launch(std::function<void(Session&)> body, std::shared_ptr<http::Duplex> connection) {
  auto session = std::make_shared<Session>();
  session->connection = std::move(connection);
  session->bridge = std::make_unique<FdBridge>(session->connection);
  session->self = session;
  std::vector<std::shared_ptr<Session>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if ((*it)->done) {
        finished.push_back(*it);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
    sessions_.push_back(session);
  }
  for (auto& f : finished) {
    if (f->thread.joinable()) f->thread.join();
  }
  ++active_;
  session->thread = std::thread([this, session, body = std::move(body)] {
    body(*session);
    session->connection->Close(1000);
    session->done = true;
    --active_;
  });
}

// ---- exec ----

void StreamSessions::Exec(std::shared_ptr<http::Duplex> connection, RemoteCommandProtocol protocol, ExecOptions options) {
  Launch([this, protocol, options](Session& s) { RunExec(s, protocol, options); }, std::move(connection));
}

void StreamSessions::RunExec(Session& s, const RemoteCommandProtocol& protocol, const ExecOptions& options) {
  FdBridge& bridge = *s.bridge;
  struct TerminalSize {
    std::mutex mu;
    std::optional<std::pair<uint16_t, uint16_t>> size;
  };
  auto resize = std::make_shared<TerminalSize>();
  const bool tty = options.request.tty;
  s.connection->Start({[weak = s.self, resize, protocol, tty](std::string message) {
                         auto sp = weak.lock();
                         auto m = DecodeChannelMessage(protocol, message);
                         if (!sp || !m.ok()) return;
                         FdBridge& bridge = *sp->bridge;
                         if (m->channel == kStdin) {
                           bridge.Write(0, m->data);
                         } else if (m->channel == kResize) {
                           if (auto parsed = ParseTerminalSize(m->data); parsed.ok()) {
                             std::lock_guard<std::mutex> lock(resize->mu);
                             resize->size = *parsed;
                             bridge.Wake();
                           }
                         } else if (m->channel == kCloseChannel && !m->data.empty() && m->data[0] == kStdin) {
                           // End of input: a terminal reads it as ^D at the start of a line.
                           if (tty) {
                             bridge.Write(0, "\x04");
                           } else {
                             bridge.CloseWriter(0);
                           }
                         }
                       },
                       [weak = s.self] {
                         if (auto sp = weak.lock()) sp->ClientGone();
                       }});
  auto process = runtime_.StartExec(options.container_id, options.request);
  if (!process.ok()) {
    s.connection->Send(EncodeChannelMessage(
        protocol, kErrorChannel,
        ErrorStatusPayload(protocol, StatusReason(process.status()),
                           StrCat("error executing command in container: ", process.status().message()))));
    return;
  }
  const runtime::ExecProcess proc = *process;
  s.WhenClientGone([this, proc] { runtime_.KillExec(proc); });
  std::shared_ptr<http::Duplex> conn = s.connection;
  int terminal = tty ? proc.stdout_fd : -1;
  if (proc.stdin_fd >= 0) bridge.AddWriter(0, proc.stdin_fd);
  if (proc.stdout_fd >= 0) {
    bridge.AddReader(proc.stdout_fd, [conn, protocol, want = options.stdout](std::string_view data) {
      if (want) conn->Send(EncodeChannelMessage(protocol, kStdout, data));
    }, [&terminal] { terminal = -1; });
  }
  if (proc.stderr_fd >= 0) {
    bridge.AddReader(proc.stderr_fd, [conn, protocol, want = options.stderr](std::string_view data) {
      if (want) conn->Send(EncodeChannelMessage(protocol, kStderr, data));
    }, nullptr);
  }
  bridge.Run([&] {
    std::lock_guard<std::mutex> lock(resize->mu);
    if (resize->size && terminal >= 0) {
      winsize ws{};
      ws.ws_col = resize->size->first;
      ws.ws_row = resize->size->second;
      ioctl(terminal, TIOCSWINSZ, &ws);
    }
    resize->size.reset();
  }, absl::Seconds(1), /*until_readers_done=*/true);
  if (proc.stdin_fd >= 0) bridge.CloseWriter(0);
  auto code = runtime_.WaitExec(proc);
  s.WhenClientGone([] {});
  if (s.Gone()) return;
  if (!code.ok()) {
    s.connection->Send(EncodeChannelMessage(protocol, kErrorChannel,
                                            ErrorStatusPayload(protocol, "InternalError", std::string(code.status().message()))));
    return;
  }
  s.connection->Send(EncodeChannelMessage(protocol, kErrorChannel, ExitStatusPayload(protocol, *code, options.request.argv)));
}

// ---- attach ----

void StreamSessions::Attach(std::shared_ptr<http::Duplex> connection, RemoteCommandProtocol protocol, AttachOptions options) {
  Launch([this, protocol, options](Session& s) { RunAttach(s, protocol, options); }, std::move(connection));
}

void StreamSessions::RunAttach(Session& s, const RemoteCommandProtocol& protocol, const AttachOptions& options) {
  FdBridge& bridge = *s.bridge;
  s.connection->Start({[weak = s.self, protocol](std::string message) {
                         auto sp = weak.lock();
                         auto m = DecodeChannelMessage(protocol, message);
                         if (!sp || !m.ok()) return;
                         if (m->channel == kStdin) sp->bridge->Write(0, m->data);
                         if (m->channel == kCloseChannel && !m->data.empty() && m->data[0] == kStdin) sp->bridge->CloseWriter(0);
                       },
                       [weak = s.self] {
                         if (auto sp = weak.lock()) sp->ClientGone();
                       }});
  auto fail = [&](const absl::Status& st) {
    s.connection->Send(EncodeChannelMessage(protocol, kErrorChannel,
                                            ErrorStatusPayload(protocol, StatusReason(st), std::string(st.message()))));
  };
  auto status = runtime_.Inspect(options.container_id);
  if (!status.ok() || status->state != runtime::State::kRunning) {
    return fail(absl::FailedPreconditionError("the container is not running"));
  }
  if (options.stdin) {
    auto path = runtime_.StdinPath(options.container_id);
    if (!path.ok()) return fail(path.status());
    // The init keeps its own end open, so this never blocks and never finds no reader.
    int fd = open(path->c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail(absl::UnavailableError(StrCat("opening the container's stdin: ", std::strerror(errno))));
    bridge.AddWriter(0, fd);
  }
  // Output is what the main process writes from now on, read from its log as it grows.
  const std::string log_path = status->log_path;
  struct stat st {};
  int64_t offset = stat(log_path.c_str(), &st) == 0 ? st.st_size : 0;
  std::string partial_line;
  auto last_check = clock_.MonotonicNow();
  bool ended = false;
  int exit_code = 0;
  bridge.Run([&] {
    int fd = open(log_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      struct stat now {};
      if (fstat(fd, &now) == 0 && now.st_size < offset) offset = 0;  // rotated
      char buf[65536];
      ssize_t n;
      while ((n = pread(fd, buf, sizeof buf, offset)) > 0) {
        offset += n;
        partial_line.append(buf, static_cast<size_t>(n));
      }
      close(fd);
    }
    size_t start = 0;
    for (size_t nl; (nl = partial_line.find('\n', start)) != std::string::npos; start = nl + 1) {
      LogLine line;
      if (!ParseLogLine(std::string_view(partial_line).substr(start, nl - start), line)) continue;
      std::string text(line.text);
      if (!line.partial) text += "\n";
      bool err = line.stream == "stderr";
      if (err ? options.stderr : options.stdout) {
        s.connection->Send(EncodeChannelMessage(protocol, err ? kStderr : kStdout, text));
      }
    }
    partial_line.erase(0, start);
    if (clock_.MonotonicNow() - last_check > std::chrono::milliseconds(200)) {
      last_check = clock_.MonotonicNow();
      auto now = runtime_.Inspect(options.container_id);
      if (!now.ok() || now->state != runtime::State::kRunning) {
        ended = true;
        exit_code = now.ok() ? now->exit_code : 0;
        bridge.Stop();
      }
    }
  }, absl::Milliseconds(100), /*until_readers_done=*/false);
  if (ended && !s.Gone()) {
    s.connection->Send(EncodeChannelMessage(protocol, kErrorChannel, ExitStatusPayload(protocol, exit_code, {})));
  }
}

// ---- port-forward, WebSocket channels ----

void StreamSessions::PortForwardChannels(std::shared_ptr<http::Duplex> connection, RemoteCommandProtocol protocol,
                                         PortForwardTarget target, std::vector<uint16_t> ports) {
  Launch([this, protocol, target, ports](Session& s) { RunPortForwardChannels(s, protocol, target, ports); },
         std::move(connection));
}

void StreamSessions::RunPortForwardChannels(Session& s, const RemoteCommandProtocol& protocol,
                                            const PortForwardTarget& target, const std::vector<uint16_t>& ports) {
  FdBridge& bridge = *s.bridge;
  size_t count = ports.size();
  s.connection->Start({[weak = s.self, protocol, count](std::string message) {
                         auto sp = weak.lock();
                         auto m = DecodeChannelMessage(protocol, message);
                         if (!sp || !m.ok() || m->channel % 2 != 0 || m->channel / 2 >= count) return;
                         sp->bridge->Write(m->channel / 2, m->data);
                       },
                       [weak = s.self] {
                         if (auto sp = weak.lock()) sp->ClientGone();
                       }});
  std::shared_ptr<http::Duplex> conn = s.connection;
  for (size_t i = 0; i < ports.size(); ++i) {
    uint8_t data_channel = static_cast<uint8_t>(2 * i), error_channel = static_cast<uint8_t>(2 * i + 1);
    std::string port_bytes{static_cast<char>(ports[i] & 0xff), static_cast<char>(ports[i] >> 8)};
    conn->Send(EncodeChannelMessage(protocol, data_channel, port_bytes));
    conn->Send(EncodeChannelMessage(protocol, error_channel, port_bytes));
    auto fd = ConnectInPod(target, ports[i]);
    if (!fd.ok()) {
      conn->Send(EncodeChannelMessage(protocol, error_channel,
                                      StrCat("error forwarding port ", ports[i], " to pod: ", fd.status().message())));
      continue;
    }
    bridge.AddWriter(static_cast<int>(i), *fd);
    bridge.AddReader(*fd, [conn, protocol, data_channel](std::string_view data) {
      conn->Send(EncodeChannelMessage(protocol, data_channel, data));
    }, nullptr);
  }
  bridge.Run(nullptr, absl::Seconds(1), /*until_readers_done=*/true);
}

// ---- port-forward, SPDY ----

void StreamSessions::PortForwardSpdy(std::shared_ptr<http::Duplex> connection, PortForwardTarget target) {
  Launch([this, target](Session& s) { RunPortForwardSpdy(s, target); }, std::move(connection));
}

void StreamSessions::RunPortForwardSpdy(Session& s, const PortForwardTarget& target) {
  // One forwarded connection: the client opens an error stream and a data stream with the same
  // requestid and port headers.
  struct Pair {
    uint32_t data_stream = 0, error_stream = 0;
    uint16_t port = 0;
    int fd = -1;
    bool connect_requested = false;
  };
  struct State {
    std::mutex mu;
    SpdyCodec codec;  // network thread only
    std::map<std::string, Pair> pairs;     // by request id
    std::map<uint32_t, std::string> by_stream;
    std::deque<std::string> to_connect;    // request ids whose data stream arrived
  };
  auto state = std::make_shared<State>();
  FdBridge& bridge = *s.bridge;
  std::shared_ptr<http::Duplex> conn = s.connection;
  std::weak_ptr<http::Duplex> weak_conn = conn;
  conn->Start({[state, weak = s.self, weak_conn](std::string message) {
                 auto sp = weak.lock();
                 auto conn = weak_conn.lock();
                 if (!sp || !conn) return;
                 FdBridge& bridge = *sp->bridge;
                 std::vector<SpdyFrame> frames;
                 absl::Status fed = state->codec.Feed(message, frames);
                 for (SpdyFrame& f : frames) {
                   switch (f.type) {
                     case SpdyFrameType::kSynStream: {
                       conn->Send(state->codec.SynReply(f.stream_id, {}, false));
                       std::string type = f.Header("streamtype");
                       std::string request = f.Header("requestid");
                       int port = 0;
                       for (char c : f.Header("port")) port = (c >= '0' && c <= '9' && port < 65536) ? port * 10 + (c - '0') : 1 << 20;
                       std::lock_guard<std::mutex> lock(state->mu);
                       Pair& p = state->pairs[request];
                       p.port = static_cast<uint16_t>(port > 0 && port < 65536 ? port : 0);
                       state->by_stream[f.stream_id] = request;
                       if (type == "error") p.error_stream = f.stream_id;
                       if (type == "data") {
                         p.data_stream = f.stream_id;
                         if (!p.connect_requested) {
                           p.connect_requested = true;
                           state->to_connect.push_back(request);
                         }
                       }
                       bridge.Wake();
                       break;
                     }
                     case SpdyFrameType::kData: {
                       std::lock_guard<std::mutex> lock(state->mu);
                       auto it = state->by_stream.find(f.stream_id);
                       if (it == state->by_stream.end()) break;
                       Pair& p = state->pairs[it->second];
                       if (f.stream_id != p.data_stream) break;
                       if (!f.data.empty()) bridge.Write(static_cast<int>(f.stream_id), f.data);
                       if (f.fin()) bridge.CloseWriter(static_cast<int>(f.stream_id));
                       break;
                     }
                     case SpdyFrameType::kRstStream: {
                       std::lock_guard<std::mutex> lock(state->mu);
                       auto it = state->by_stream.find(f.stream_id);
                       if (it == state->by_stream.end()) break;
                       Pair& p = state->pairs[it->second];
                       if (f.stream_id == p.data_stream && p.fd >= 0) bridge.Drop(p.fd);
                       break;
                     }
                     case SpdyFrameType::kPing:
                       conn->Send(SpdyCodec::Ping(f.value));
                       break;
                     case SpdyFrameType::kGoAway:
                       bridge.Stop();
                       break;
                     default:
                       break;  // SETTINGS, WINDOW_UPDATE: spdystream does no flow control
                   }
                 }
                 if (!fed.ok()) {
                   BERTH_LOG(Warning, "portforward", "Ending a SPDY session", "error", fed.ToString());
                   conn->Send(SpdyCodec::GoAway(0, 1));
                   conn->Close(1002);
                 }
               },
               [weak = s.self] {
                         if (auto sp = weak.lock()) sp->ClientGone();
                       }});
  bridge.Run([&] {
    std::deque<std::string> requests;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      requests.swap(state->to_connect);
    }
    for (const std::string& request : requests) {
      Pair p;
      {
        std::lock_guard<std::mutex> lock(state->mu);
        p = state->pairs[request];
      }
      auto fd = p.port == 0 ? absl::InvalidArgumentError("invalid port") : ConnectInPod(target, p.port);
      if (!fd.ok()) {
        if (p.error_stream != 0) {
          conn->Send(SpdyCodec::Data(p.error_stream,
                                     StrCat("error forwarding port ", p.port, " to pod: ", fd.status().message()), true));
        }
        conn->Send(SpdyCodec::Data(p.data_stream, "", true));
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(state->mu);
        state->pairs[request].fd = *fd;
      }
      uint32_t data_stream = p.data_stream;
      bridge.AddWriter(static_cast<int>(data_stream), *fd);
      bridge.AddReader(*fd, [conn, data_stream](std::string_view data) {
        // spdystream reads frames whole: keep them at most 32 KiB, as it writes its own.
        for (size_t at = 0; at < data.size(); at += 32 * 1024) {
          conn->Send(SpdyCodec::Data(data_stream, data.substr(at, 32 * 1024), false));
        }
      }, [conn, state, request] {
        Pair done;
        {
          std::lock_guard<std::mutex> lock(state->mu);
          done = state->pairs[request];
        }
        conn->Send(SpdyCodec::Data(done.data_stream, "", true));
        if (done.error_stream != 0) conn->Send(SpdyCodec::Data(done.error_stream, "", true));
      });
    }
  }, absl::Seconds(1), /*until_readers_done=*/false);
}

}  // namespace berth::agent::streaming
