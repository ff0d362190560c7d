// Watch latency as a client sees it, measured by a client fast enough not to be the bottleneck
// (the Python asyncio reader spent ~100 µs per event and watcher, so with 1,000 watchers it
// measured itself). Opens N watch streams on one epoll thread, then creates ConfigMaps at a fixed
// rate, each annotated with its sequence number, and records, per stream, the time from sending
// the create to reading its event. Reports p50/p99, events delivered, and events out of order.
//
// usage: watch_latency PORT WATCH_PATH CREATE_PATH WATCHERS WRITES RATE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void SendAll(int fd, const std::string& s) {
  size_t at = 0;
  while (at < s.size()) {
    ssize_t n = send(fd, s.data() + at, s.size() - at, MSG_NOSIGNAL);
    if (n <= 0) {
      perror("send");
      exit(1);
    }
    at += static_cast<size_t>(n);
  }
}

// Reads one HTTP response with a Content-Length (the create's answer) and returns its status.
int ReadResponse(int fd) {
  std::string buf;
  char tmp[8192];
  size_t body_at = std::string::npos, length = 0;
  while (true) {
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return -1;
    buf.append(tmp, static_cast<size_t>(n));
    if (body_at == std::string::npos) {
      size_t end = buf.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      body_at = end + 4;
      const char* cl = strcasestr(buf.c_str(), "content-length:");
      length = cl ? std::strtoul(cl + 15, nullptr, 10) : 0;
    }
    if (buf.size() >= body_at + length) return std::atoi(buf.c_str() + 9);
  }
}

constexpr size_t kTailMax = 64;  // longer than a marker and its number

struct Watcher {
  int fd = -1;
  char tail[kTailMax];  // the end of the last read, in case a marker or the header end spans two reads
  size_t tail_len = 0;
  bool headers_done = false;
  long last_seq = -1;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: watch_latency PORT WATCH_PATH CREATE_PATH WATCHERS WRITES RATE\n");
    return 2;
  }
  int port = atoi(argv[1]);
  std::string watch_path = argv[2], create_path = argv[3];
  int watchers = atoi(argv[4]), writes = atoi(argv[5]);
  double rate = atof(argv[6]);

  std::vector<std::atomic<int64_t>> sent(static_cast<size_t>(writes));
  for (auto& s : sent) s = 0;
  std::vector<Watcher> ws(static_cast<size_t>(watchers));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < watchers; ++i) {
    ws[i].fd = Connect(port);
    SendAll(ws[i].fd, "GET " + watch_path + " HTTP/1.1\r\nHost: bench\r\n\r\n");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, ws[i].fd, &ev);
  }
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(watchers) * writes);
  std::atomic<int> ready{0};
  std::atomic<size_t> delivered{0};
  long reordered = 0;
  std::atomic<bool> stop{false};
  // The reader shares the machine's cores with the server it measures, so it allocates and
  // copies nothing per read: each read lands after the previous read's tail in one buffer.
  std::thread reader([&] {
    std::vector<epoll_event> events(256);
    static const char kMarker[] = "\"bench-seq\":\"";
    constexpr size_t kMarkerLen = sizeof kMarker - 1;
    static char buf[kTailMax + 65536];
    while (!stop) {
      int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
      auto now = Clock::now().time_since_epoch().count();
      for (int k = 0; k < n; ++k) {
        Watcher& w = ws[events[k].data.u32];
        std::memcpy(buf, w.tail, w.tail_len);
        ssize_t got = recv(w.fd, buf + w.tail_len, sizeof buf - kTailMax, 0);
        if (got <= 0) {
          epoll_ctl(ep, EPOLL_CTL_DEL, w.fd, nullptr);
          continue;
        }
        const char* text = buf;
        const char* end = buf + w.tail_len + got;
        if (!w.headers_done) {
          const char* body = static_cast<const char*>(memmem(text, static_cast<size_t>(end - text), "\r\n\r\n", 4));
          if (body == nullptr) {
            size_t keep = std::min<size_t>(static_cast<size_t>(end - text), 3);
            std::memcpy(w.tail, end - keep, keep);
            w.tail_len = keep;
            continue;
          }
          w.headers_done = true;
          ++ready;
          text = body + 4;
        }
        const char* consumed = text;
        const char* pos = text;
        while ((pos = static_cast<const char*>(memmem(pos, static_cast<size_t>(end - pos), kMarker, kMarkerLen))) != nullptr) {
          const char* start = pos + kMarkerLen;
          const char* quote = static_cast<const char*>(std::memchr(start, '"', static_cast<size_t>(end - start)));
          if (quote == nullptr) break;  // the number continues in the next read
          long seq = std::strtol(start, nullptr, 10);
          if (seq >= 0 && seq < writes && sent[seq] != 0) {
            latencies.push_back(static_cast<double>(now - sent[seq]) / 1e6);
            ++delivered;
            if (seq <= w.last_seq) ++reordered;
            w.last_seq = seq;
          }
          pos = consumed = quote + 1;
        }
        // Keep what may hold the start of a marker.
        const char* keep_from = std::max(consumed, end - std::min<ptrdiff_t>(end - text, kTailMax));
        w.tail_len = static_cast<size_t>(end - keep_from);
        std::memmove(w.tail, keep_from, w.tail_len);
      }
    }
  });
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (ready < watchers && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));

  int writer = Connect(port);
  auto period = std::chrono::duration<double>(1.0 / rate);
  auto next = Clock::now();
  for (int i = 0; i < writes; ++i) {
    std::string body = "{\"metadata\":{\"generateName\":\"w-\",\"annotations\":{\"bench-seq\":\"" + std::to_string(i) + "\"}}}";
    std::string req = "POST " + create_path + " HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
    sent[i] = Clock::now().time_since_epoch().count();
    SendAll(writer, req);
    int status = ReadResponse(writer);
    if (status != 201) fprintf(stderr, "create %d answered %d\n", i, status);
    next += std::chrono::duration_cast<Clock::duration>(period);
    std::this_thread::sleep_until(next);
  }
  size_t expected = static_cast<size_t>(watchers) * writes;
  deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (delivered >= expected) break;
  }
  stop = true;
  reader.join();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    if (latencies.empty()) return -1.0;
    return latencies[std::min(latencies.size() - 1, static_cast<size_t>(latencies.size() * p / 100))];
  };
  printf("{\"ready\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"delivered\":%zu,\"expected\":%zu,\"reordered\":%ld}\n",
         ready.load(), pct(50), pct(99), latencies.empty() ? -1.0 : latencies.back(), latencies.size(), expected, reordered);
  return 0;
}
