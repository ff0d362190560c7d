// The HTTP server against raw sockets: keep-alive, chunked bodies, the limits that hold under
// hostile clients, streams and slow readers, graceful stop, TLS with and without client
// certificates, WebSocket and raw upgrades, and relaying.

#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/http/http.h"
#include "absl/strings/str_join.h"
#include "core/strings/strings.h"
#include "gtest/gtest.h"
#include "testing/eventually.h"
#include "testing/raw_socket.h"

namespace berth::http {
namespace {

using berth::testing::Eventually;
using berth::testing::RawSocket;
using namespace std::chrono_literals;

Response Text(std::string body, int status = 200) {
  Response r;
  r.status = status;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

// Echoes method, path and body; /stream starts a stream the test drives.
class EchoServer {
 public:
  explicit EchoServer(ServerOptions options = {}) {
    auto started = StartServer(std::move(options), [this](Request r, std::shared_ptr<Responder> responder) {
      Handle(std::move(r), std::move(responder));
    });
    EXPECT_TRUE(started.ok()) << started.status();
    server = *std::move(started);
  }

  void Handle(Request r, std::shared_ptr<Responder> responder) {
    {
      std::lock_guard<std::mutex> lock(mu);
      last = r;
    }
    if (r.path == "/stream") {
      auto s = responder->StartStream(200, "application/json");
      std::lock_guard<std::mutex> lock(mu);
      streams.push_back(s);
      return;
    }
    if (r.path == "/later") {
      std::lock_guard<std::mutex> lock(mu);
      later.push_back(responder);
      return;
    }
    if (r.path == "/drop") return;  // the Responder goes away unanswered
    if (r.websocket) {
      auto ws = responder->AcceptWebSocket(r.Header("sec-websocket-protocol").empty() ? "" : "v5.channel.k8s.io");
      std::weak_ptr<Duplex> weak = ws;
      ws->Start({[weak](std::string m) {
                   if (auto d = weak.lock()) {
                     if (m == "close") {
                       d->Close(4000);
                     } else {
                       d->Send("echo:" + m);
                     }
                   }
                 },
                 [this] { ++duplex_closed; }});
      std::lock_guard<std::mutex> lock(mu);
      duplexes.push_back(ws);
      return;
    }
    if (!r.upgrade.empty()) {
      auto raw = responder->AcceptUpgrade({{"Upgrade", r.upgrade}});
      std::weak_ptr<Duplex> weak = raw;
      raw->Start({[weak](std::string m) {
                    if (auto d = weak.lock()) d->Send("raw:" + m);
                  },
                  [this] { ++duplex_closed; }});
      std::lock_guard<std::mutex> lock(mu);
      duplexes.push_back(raw);
      return;
    }
    std::string peer = r.peer ? StrCat(" cn=", r.peer->common_name, " o=", absl::StrJoin(r.peer->organizations, ",")) : "";
    responder->Reply(Text(StrCat(r.method, " ", r.path, " body=", r.body, peer)));
  }

  std::shared_ptr<Stream> stream(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return i < streams.size() ? streams[i] : nullptr;
  }
  size_t stream_count() {
    std::lock_guard<std::mutex> lock(mu);
    return streams.size();
  }

  std::unique_ptr<Server> server;
  std::mutex mu;
  Request last;
  std::vector<std::shared_ptr<Stream>> streams;
  std::vector<std::shared_ptr<Responder>> later;
  std::vector<std::shared_ptr<Duplex>> duplexes;
  std::atomic<int> duplex_closed{0};
};

std::string Get(std::string_view path, std::string_view extra = "") {
  return StrCat("GET ", path, " HTTP/1.1\r\nHost: x\r\n", extra, "\r\n");
}

TEST(BeastServer, KeepAliveAnswersSeveralRequestsOnOneConnection) {
  EchoServer s;
  RawSocket c(s.server->port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(Get(StrCat("/a", i))));
    std::string head = c.ReadUntil("\r\n\r\n");
    EXPECT_NE(head.find("HTTP/1.1 200 OK"), std::string::npos) << head;
    std::string body = c.ReadUntil(StrCat("body="));
    EXPECT_NE(body.find(StrCat("GET /a", i)), std::string::npos) << body;
  }
  EXPECT_FALSE(c.closed());
}

TEST(BeastServer, ChunkedRequestBodyIsAssembled) {
  EchoServer s;
  RawSocket c(s.server->port());
  c.Send("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  std::string resp = c.ReadUntil("body=abcde");
  EXPECT_NE(resp.find("body=abcde"), std::string::npos) << resp;
}

// Each of these once stopped, smuggled past or hung the cpprestsdk server.
struct BadRequestCase {
  const char* name;
  std::string request;
  int status;
};

class BadFraming : public ::testing::TestWithParam<BadRequestCase> {};

TEST_P(BadFraming, AnswersAStatusAndClosesTheConnection) {
  EchoServer s;
  RawSocket c(s.server->port());
  c.Send(GetParam().request);
  std::string head = c.ReadUntil("\r\n\r\n");
  EXPECT_EQ(head.rfind(StrCat("HTTP/1.1 ", GetParam().status), 0), 0u) << head;
  std::string rest = c.ReadUntil(StrCat("\"code\":", GetParam().status));
  EXPECT_NE(rest.find("\"kind\":\"Status\""), std::string::npos) << rest;
  EXPECT_NE(rest.find(StrCat("\"code\":", GetParam().status)), std::string::npos) << rest;
  EXPECT_TRUE(c.WaitClosed());
  // The server is still there for others.
  RawSocket other(s.server->port());
  other.Send(Get("/ok"));
  EXPECT_NE(other.ReadUntil("body=").find("200 OK"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Hostile, BadFraming,
    ::testing::Values(
        BadRequestCase{"NegativeChunkSize", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n", 400},
        BadRequestCase{"OversizedChunkSize",
                       "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n", 400},
        BadRequestCase{"ConflictingContentLengths", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", 400},
        BadRequestCase{"NegativeContentLength", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
        BadRequestCase{"LengthAndChunked", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        BadRequestCase{"NulInRequestLine", std::string("DELETE /pods/p-nul\0junk HTTP/1.1\r\nHost: x\r\n\r\n", 46), 400},
        BadRequestCase{"ControlByteInTarget", "GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        BadRequestCase{"BadPercentEscape", "GET /api/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        BadRequestCase{"BodyOverLimitByLength", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n", 413},
        BadRequestCase{"BodyOverLimitChunked",
                       "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3fffff\r\n" + std::string(0x3fffff, 'a') +
                           "\r\n3fffff\r\n" + std::string(0x3fffff, 'a') + "\r\n0\r\n\r\n",
                       413},
        BadRequestCase{"HeaderOverLimit", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(200000, 'a') + "\r\n\r\n", 431}),
    [](const ::testing::TestParamInfo<BadRequestCase>& info) { return std::string(info.param.name); });

TEST(BeastServer, ExpectContinueIsAnswered) {
  EchoServer s;
  RawSocket c(s.server->port());
  c.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(c.ReadUntil("\r\n\r\n").find("100 Continue"), std::string::npos);
  c.Send("hello");
  EXPECT_NE(c.ReadUntil("body=hello").find("body=hello"), std::string::npos);
}

TEST(BeastServer, ShortBodyAndSlowHeadersTimeOutWithoutDelayingOthers) {
  ServerOptions o;
  o.header_timeout = absl::Seconds(2);
  o.body_timeout = absl::Seconds(2);
  EchoServer s(o);
  RawSocket short_body(s.server->port());
  short_body.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<RawSocket>(s.server->port()));
    slow.back()->Send("GET / HTTP/1.1\r\nX-Slow: ");
  }
  RawSocket fast(s.server->port());
  fast.Send(Get("/fast"));
  EXPECT_NE(fast.ReadUntil("body=").find("200 OK"), std::string::npos);
  // Answered while every slow client still waits for its deadline: nobody queued behind them.
  for (auto& c : slow) c->ReadSome(0ms);
  for (auto& c : slow) EXPECT_FALSE(c->closed()) << "answered only after the slow clients timed out";
  EXPECT_TRUE(short_body.WaitClosed(5000ms));
  for (auto& c : slow) EXPECT_TRUE(c->WaitClosed(5000ms));
}

TEST(BeastServer, ConnectionsBeyondTheCapGet503) {
  ServerOptions o;
  o.max_connections = 2;
  EchoServer s(o);
  RawSocket a(s.server->port()), b(s.server->port());
  a.Send(Get("/a"));
  b.Send(Get("/b"));
  a.ReadUntil("body=");
  b.ReadUntil("body=");
  RawSocket c(s.server->port());
  EXPECT_NE(c.ReadUntil("\r\n\r\n").find("503"), std::string::npos);
}

TEST(BeastServer, StreamChunksArriveAsWrittenAndEndWithTheFinalChunk) {
  EchoServer s;
  RawSocket c(s.server->port());
  c.Send(Get("/stream"));
  EXPECT_NE(c.ReadUntil("\r\n\r\n").find("Transfer-Encoding: chunked"), std::string::npos);
  ASSERT_TRUE(Eventually([&] { return s.stream_count() == 1; }));
  auto stream = s.stream(0);
  EXPECT_TRUE(stream->Write("{\"a\":1}\n"));
  EXPECT_EQ(c.ReadUntil("{\"a\":1}\n\r\n"), "8\r\n{\"a\":1}\n\r\n");
  std::atomic<bool> ended{false};
  stream->OnClosed([&] { ended = true; });
  stream->Close();
  EXPECT_EQ(c.ReadUntil("0\r\n\r\n"), "0\r\n\r\n");
  EXPECT_TRUE(Eventually([&] { return ended.load(); }));
  EXPECT_FALSE(stream->Write("late"));
}

TEST(BeastServer, AClientThatLeavesEndsItsStreamAtOnce) {
  EchoServer s;
  std::atomic<bool> ended{false};
  {
    RawSocket c(s.server->port());
    c.Send(Get("/stream"));
    c.ReadUntil("\r\n\r\n");
    ASSERT_TRUE(Eventually([&] { return s.stream_count() == 1; }));
    s.stream(0)->OnClosed([&] { ended = true; });
  }
  EXPECT_TRUE(Eventually([&] { return ended.load(); }));
  EXPECT_FALSE(s.stream(0)->Write("x"));
}

TEST(BeastServer, AReaderThatStopsReadingIsCutAtTheBacklogLimit) {
  ServerOptions o;
  o.max_stream_backlog = 1 << 20;
  EchoServer s(o);
  RawSocket c(s.server->port());
  int small = 4096;
  setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  c.Send(Get("/stream"));
  ASSERT_TRUE(Eventually([&] { return s.stream_count() == 1; }));
  auto stream = s.stream(0);
  std::atomic<bool> ended{false};
  stream->OnClosed([&] { ended = true; });
  std::string piece(64 * 1024, 'x');
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) refused = !stream->Write(piece);
  EXPECT_TRUE(refused) << "the backlog never reached the limit";
  EXPECT_TRUE(Eventually([&] { return ended.load(); }));
  EXPECT_EQ(stream->Pending(), 0u);
}

// Answers and chunks are first offered to one non-blocking send; what the socket cannot take
// then is written as it drains. Both must arrive whole and in order, and the connection go on.
TEST(BeastServer, WritesLargerThanTheSocketTakesArriveWholeAndTheConnectionGoesOn) {
  EchoServer s;
  RawSocket c(s.server->port());
  int small = 64 * 1024;  // far less than either write; much smaller slows loopback TCP to a crawl
  setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string body = std::string(2 << 20, 'y') + "END";
  c.Send(StrCat("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ", body.size(), "\r\n\r\n", body));
  std::string answer = c.ReadUntil("yEND");
  EXPECT_NE(answer.find("HTTP/1.1 200 OK"), std::string::npos) << answer.substr(0, 200);
  EXPECT_NE(answer.find("body=" + body), std::string::npos) << "the answer arrived cut: " << answer.size() << " bytes";
  c.Send(Get("/after"));
  EXPECT_NE(c.ReadUntil("body=").find("GET /after"), std::string::npos);

  RawSocket w(s.server->port());
  setsockopt(w.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  w.Send(Get("/stream"));
  w.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(Eventually([&] { return s.stream_count() == 1; }));
  std::string event = std::string(1 << 20, 'z') + "E1";
  ASSERT_TRUE(s.stream(0)->Write(event));
  std::string first = w.ReadUntil("zE1");
  EXPECT_NE(first.find(event), std::string::npos) << "the chunk arrived cut: " << first.size() << " bytes";
  ASSERT_TRUE(s.stream(0)->Write("second"));
  EXPECT_NE(w.ReadUntil("second").find("second"), std::string::npos);
  EXPECT_TRUE(Eventually([&] { return s.stream(0)->Pending() == 0; }));
}

TEST(BeastServer, ADroppedResponderAnswers500) {
  EchoServer s;
  RawSocket c(s.server->port());
  c.Send(Get("/drop"));
  EXPECT_NE(c.ReadUntil("\r\n\r\n").find("500"), std::string::npos);
}

TEST(BeastServer, StopAnswersInFlightRequestsAndEndsStreams) {
  auto s = std::make_unique<EchoServer>();
  RawSocket streaming(s->server->port());
  streaming.Send(Get("/stream"));
  streaming.ReadUntil("\r\n\r\n");
  RawSocket waiting(s->server->port());
  waiting.Send(Get("/later"));
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(s->mu);
    return s->later.size() == 1 && s->streams.size() == 1;
  }));
  std::thread answer([&] {
    std::this_thread::sleep_for(100ms);
    std::lock_guard<std::mutex> lock(s->mu);
    s->later[0]->Reply(Text("late answer"));
  });
  s->server->Stop();
  answer.join();
  EXPECT_NE(waiting.ReadUntil("late answer").find("late answer"), std::string::npos);
  EXPECT_NE(streaming.ReadUntil("0\r\n\r\n").find("0\r\n\r\n"), std::string::npos);
  RawSocket after(s->server->port());
  EXPECT_FALSE(after.connected() && !after.WaitClosed(1000ms));
}

// ---- TLS ----

class Pki {
 public:
  Pki() {
    dir = std::filesystem::temp_directory_path() / StrCat("berth-pki-", getpid(), "-", counter_++);
    std::filesystem::create_directories(dir);
    Run(StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=berth-ca ",
               "-keyout ", Path("ca.key"), " -out ", Path("ca.crt")));
    Issue("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    Issue("alice", "/CN=alice/O=dev/O=ops", "");
  }
  ~Pki() { std::filesystem::remove_all(dir); }
  std::string Path(const std::string& name) const { return (dir / name).string(); }
  void Issue(const std::string& name, const std::string& subject, const std::string& san) {
    Run(StrCat("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj ", subject, " -keyout ",
               Path(name + ".key"), " -out ", Path(name + ".csr")));
    std::string ext;
    if (!san.empty()) {
      std::FILE* f = std::fopen(Path(name + ".ext").c_str(), "w");
      std::fputs(san.c_str(), f);
      std::fclose(f);
      ext = StrCat(" -extfile ", Path(name + ".ext"));
    }
    Run(StrCat("openssl x509 -req -in ", Path(name + ".csr"), " -CA ", Path("ca.crt"), " -CAkey ", Path("ca.key"),
               " -CAcreateserial -days 2 -out ", Path(name + ".crt"), ext));
  }
  static void Run(const std::string& cmd) { ASSERT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0) << cmd; }
  std::filesystem::path dir;

 private:
  static inline int counter_ = 0;
};

ServerOptions TlsServer(const Pki& pki, bool verify_clients) {
  ServerOptions o;
  o.tls = TlsOptions{pki.Path("server.crt"), pki.Path("server.key"), verify_clients ? pki.Path("ca.crt") : ""};
  return o;
}

TEST(BeastServerTls, ServesWithoutAClientCertificate) {
  Pki pki;
  EchoServer s(TlsServer(pki, true));
  RawSocket c(s.server->port());
  ASSERT_TRUE(c.StartTls(pki.Path("ca.crt")));
  c.Send(Get("/anon"));
  std::string resp = c.ReadUntil("body=");
  resp += c.ReadSome(1000ms);
  EXPECT_NE(resp.find("200 OK"), std::string::npos) << resp;
  EXPECT_EQ(resp.find("cn="), std::string::npos) << resp;
}

TEST(BeastServerTls, HandsTheVerifiedClientIdentityToTheHandler) {
  Pki pki;
  EchoServer s(TlsServer(pki, true));
  RawSocket c(s.server->port());
  ASSERT_TRUE(c.StartTls(pki.Path("ca.crt"), pki.Path("alice.crt"), pki.Path("alice.key")));
  c.Send(Get("/me"));
  std::string resp = c.ReadUntil("cn=alice o=dev,ops");
  EXPECT_NE(resp.find("cn=alice o=dev,ops"), std::string::npos) << resp;
}

TEST(BeastServerTls, RefusesACertificateFromAnotherCa) {
  Pki pki, other;
  EchoServer s(TlsServer(pki, true));
  RawSocket c(s.server->port());
  c.StartTls(pki.Path("ca.crt"), other.Path("alice.crt"), other.Path("alice.key"));
  c.Send(Get("/me"));
  EXPECT_EQ(c.ReadUntil("cn=").find("200 OK"), std::string::npos);
}

TEST(BeastServerTls, PlainHttpOnATlsPortGetsNoAnswer) {
  Pki pki;
  EchoServer s(TlsServer(pki, false));
  RawSocket c(s.server->port());
  c.Send(Get("/plain"));
  EXPECT_EQ(c.ReadUntil("body=").find("200 OK"), std::string::npos);
}

TEST(BeastServerTls, ANewCertificateServesTheNextConnection) {
  Pki pki;
  EchoServer s(TlsServer(pki, false));
  {
    RawSocket c(s.server->port());
    ASSERT_TRUE(c.StartTls(pki.Path("ca.crt")));
  }
  // Rotate to a certificate from another CA: the old CA no longer verifies it.
  Pki other;
  std::filesystem::copy_file(other.Path("server.crt"), pki.Path("server.crt"), std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(other.Path("server.key"), pki.Path("server.key"), std::filesystem::copy_options::overwrite_existing);
  RawSocket old_ca(s.server->port());
  EXPECT_FALSE(old_ca.StartTls(pki.Path("ca.crt")));
  RawSocket new_ca(s.server->port());
  EXPECT_TRUE(new_ca.StartTls(other.Path("ca.crt")));
}

// ---- upgrades ----

const char kWsHandshake[] =
    "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n\r\n";

TEST(BeastServerWebSocket, NegotiatesASubprotocolAndExchangesBinaryMessages) {
  EchoServer s;
  RawSocket c(s.server->port());
  c.Send(kWsHandshake);
  std::string head = c.ReadUntil("\r\n\r\n");
  EXPECT_NE(head.find("101"), std::string::npos) << head;
  EXPECT_NE(head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Protocol: v5.channel.k8s.io"), std::string::npos) << head;
  c.Send(RawSocket::ClientFrame(2, std::string("\x00hi", 3)));
  auto [op, payload] = c.ReadFrame();
  EXPECT_EQ(op, 2);
  EXPECT_EQ(payload, std::string("echo:\x00hi", 8));
  // A ping gets its pong.
  c.Send(RawSocket::ClientFrame(9, "p1"));
  auto [pop, ppayload] = c.ReadFrame();
  EXPECT_EQ(pop, 10);
  EXPECT_EQ(ppayload, "p1");
  // A large message in two fragments arrives whole.
  std::string big(100000, 'z');
  c.Send(RawSocket::ClientFrame(2, big.substr(0, 50000), false) + RawSocket::ClientFrame(0, big.substr(50000)));
  auto [bop, bpayload] = c.ReadFrame();
  EXPECT_EQ(bpayload.size(), big.size() + 5);
}

TEST(BeastServerWebSocket, TheHandlersCloseCodeReachesTheClient) {
  EchoServer s;
  auto client = std::make_unique<RawSocket>(s.server->port());
  RawSocket& c = *client;
  c.Send(kWsHandshake);
  c.ReadUntil("\r\n\r\n");
  c.Send(RawSocket::ClientFrame(2, "close"));
  auto [op, payload] = c.ReadFrame();
  EXPECT_EQ(op, 8);
  ASSERT_GE(payload.size(), 2u);
  EXPECT_EQ((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]), 4000);
  c.Send(RawSocket::ClientFrame(8, payload.substr(0, 2)));
  EXPECT_TRUE(c.WaitClosed());
  client.reset();  // the server's close handshake ends when the client closes its side
  EXPECT_TRUE(Eventually([&] { return s.duplex_closed.load() == 1; }));
}

TEST(BeastServerWebSocket, AClientThatVanishesEndsTheSession) {
  EchoServer s;
  {
    RawSocket c(s.server->port());
    c.Send(kWsHandshake);
    c.ReadUntil("\r\n\r\n");
  }
  EXPECT_TRUE(Eventually([&] { return s.duplex_closed.load() == 1; }));
}

TEST(BeastServerUpgrade, RawUpgradeCarriesBytesBothWays) {
  EchoServer s;
  RawSocket c(s.server->port());
  c.Send("POST /spdy HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n");
  std::string head = c.ReadUntil("\r\n\r\n");
  EXPECT_NE(head.find("101 Switching Protocols"), std::string::npos) << head;
  EXPECT_NE(head.find("Upgrade: SPDY/3.1"), std::string::npos) << head;
  c.Send("bytes");
  EXPECT_EQ(c.ReadUntil("raw:bytes"), "raw:bytes");
}

TEST(BeastServerUpgrade, RelaySplicesAnUpgradedConnectionToAnotherServer) {
  EchoServer backend;
  int backend_port = backend.server->port();
  auto front = StartServer({}, [backend_port](Request r, std::shared_ptr<Responder> responder) {
    std::string head = StrCat(r.method, " /relayed HTTP/1.1\r\n");
    for (const auto& [k, v] : r.headers) StrAppend(&head, k, ": ", v, "\r\n");
    head += "\r\n";
    responder->Relay(r.path == "/nowhere" ? "127.0.0.1" : "127.0.0.1", r.path == "/nowhere" ? 1 : backend_port, head);
  });
  ASSERT_TRUE(front.ok());
  RawSocket c((*front)->port());
  c.Send(kWsHandshake);
  EXPECT_NE(c.ReadUntil("\r\n\r\n").find("101"), std::string::npos);
  c.Send(RawSocket::ClientFrame(2, "via"));
  EXPECT_EQ(c.ReadFrame().second, "echo:via");
  {
    std::lock_guard<std::mutex> lock(backend.mu);
    EXPECT_EQ(backend.last.path, "/relayed");
  }
  RawSocket d((*front)->port());
  d.Send(Get("/nowhere"));
  EXPECT_NE(d.ReadUntil("\r\n\r\n").find("502"), std::string::npos);
}

}  // namespace
}  // namespace berth::http
