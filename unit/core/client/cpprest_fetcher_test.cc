// The blob fetcher (HttpFetcher over cpprestsdk) against a raw-socket server: the body arrives
// whole and in order, the sink can stop a transfer without an error, and a slow sink holds the
// server back instead of the body piling up in memory.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/client/http_fetch.h"
#include "gtest/gtest.h"

namespace berth::client {
namespace {

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return s;
}

// Answers one GET with `status` and a body of `size` patterned bytes, counting what the socket
// has taken; `finished` turns true when all was written or the reader went away.
class OneShotServer {
 public:
  OneShotServer(int status, size_t size) : status_(status), body_(Pattern(size)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listener_, 1);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() {
    stop_ = true;
    thread_.join();
    close(listener_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v2/x/blobs/sha256:0"; }
  const std::string& body() const { return body_; }
  // How much of the response the socket had taken once it finished or `wait` passed.
  size_t WrittenAfter(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [this] { return finished_; });
    return written_;
  }

 private:
  void Serve() {
    pollfd p{listener_, POLLIN, 0};
    while (!stop_ && poll(&p, 1, 50) == 0) {
    }
    if (stop_) return;
    int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    std::string out = "HTTP/1.1 " + std::to_string(status_) + " X\r\nContent-Type: application/octet-stream\r\n" +
                      "Docker-Content-Digest: sha256:0\r\nContent-Length: " + std::to_string(body_.size()) + "\r\n\r\n" + body_;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t off = 0;
    while (off < out.size() && !stop_) {
      ssize_t n = send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        std::lock_guard<std::mutex> lock(mu_);
        written_ = off;
      } else if (errno == EAGAIN) {
        pollfd w{fd, POLLOUT, 0};
        poll(&w, 1, 50);
      } else {
        break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    cv_.notify_all();
    // Keep the connection until the client has read what it wants.
    while (!stop_ && read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
  }

  int status_;
  std::string body_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t written_ = 0;
  bool finished_ = false;
};

FetchRequest Request(const std::string& url) {
  FetchRequest r;
  r.url = url;
  r.timeout = absl::Seconds(30);
  return r;
}

// Fetches the server's answer whole: the status the sink saw with each piece, and the body.
struct Fetched {
  absl::StatusOr<FetchResponse> response;
  int status_seen_by_sink = 0;
  std::string body;
};
Fetched FetchAll(const OneShotServer& server) {
  Fetched f;
  f.response = NewCpprestFetcher()->Get(Request(server.url()), [&](const FetchResponse& head, std::string_view chunk) {
    f.status_seen_by_sink = head.status;
    f.body.append(chunk);
    return true;
  });
  return f;
}

TEST(CpprestFetcher, TheBodyArrivesWholeAndInOrderWithTheHead) {
  OneShotServer server(200, 5 << 20);
  Fetched f = FetchAll(server);
  ASSERT_TRUE(f.response.ok()) << f.response.status();
  EXPECT_EQ(f.response->status, 200);
  EXPECT_EQ(f.status_seen_by_sink, 200);
  EXPECT_EQ(f.response->Header("docker-content-digest"), "sha256:0");
  EXPECT_EQ(f.body.size(), server.body().size());
  EXPECT_TRUE(f.body == server.body());
}

TEST(CpprestFetcher, AnErrorStatusReachesTheSinkWithItsBody) {
  OneShotServer server(404, 100);
  Fetched f = FetchAll(server);
  ASSERT_TRUE(f.response.ok()) << f.response.status();
  EXPECT_EQ(f.response->status, 404);
  EXPECT_EQ(f.status_seen_by_sink, 404);
  EXPECT_EQ(f.body, server.body());
}

TEST(CpprestFetcher, TheSinkStopsTheTransferWithoutAnError) {
  OneShotServer server(200, 8 << 20);
  auto fetcher = NewCpprestFetcher();
  size_t calls = 0;
  auto r = fetcher->Get(Request(server.url()), [&](const FetchResponse&, std::string_view) {
    ++calls;
    return false;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(calls, 1u);
}

TEST(CpprestFetcher, ASlowSinkHoldsTheServerBackInsteadOfBufferingTheBody) {
  // 64 MiB is far more than loopback's socket buffers and one read of the client: while the
  // sink holds its first piece, the server can only have written a few MiB, unless the client
  // goes on reading the body into memory (which the old fetcher did, and then the server
  // finished within milliseconds).
  constexpr size_t kSize = 64 << 20;
  OneShotServer server(200, kSize);
  auto fetcher = NewCpprestFetcher();
  bool first = true;
  size_t written_while_held = 0, total = 0;
  auto r = fetcher->Get(Request(server.url()), [&](const FetchResponse&, std::string_view chunk) {
    if (first) {
      first = false;
      written_while_held = server.WrittenAfter(std::chrono::milliseconds(1500));
    }
    total += chunk.size();
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(written_while_held, kSize / 4) << "the body piled up in the client while the sink was busy";
  EXPECT_EQ(total, server.body().size());
}

}  // namespace
}  // namespace berth::client
