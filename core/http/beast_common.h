#pragma once
// File: core/http/beast_common.h
// What every session of the Beast adapter shares: the stream types (typed with the executor of
// the connection's io_context), the response head, the Session interface Stop ends, the server state (Shared) and the
// per-connection Slot. Included only by core/http's own files.
#include <utility>  // first: Boost 1.74's Asio needs std::exchange declared under C++20 (libraries.md)

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "core/http/http.h"
#include "core/http/tls_contexts.h"
#include "core/strings/strings.h"

namespace berth::http::internal {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
// A connection's operations run on its io_context's executor, not a strand: each io_context is
// run by one thread alone, which serialises them already, and a strand's queue and lock cost a
// scheduler trip per operation (every watch event a stream sends went through it twice).
using Executor = net::io_context::executor_type;
// Streams typed with that executor rather than Beast's tcp_stream (any_io_executor): no
// type-erased executor call per operation, which was a visible share of a GET's profile.
using PlainStream = beast::basic_stream<tcp, Executor, beast::unlimited_rate_policy>;
using TlsStream = beast::ssl_stream<PlainStream>;
using SessionSocket = net::basic_stream_socket<tcp, Executor>;
using Headers = std::vector<std::pair<std::string, std::string>>;

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline bool HasToken(std::string_view list, std::string_view token) {
  for (std::string_view part : Split(list, ',')) {
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (Lower(part) == Lower(token)) return true;
  }
  return false;
}

// Serialises a response head. Header values a handler passes never carry CR or LF into the
// response (that would let a value split the response).
inline std::string Head(int status, std::string_view content_type, const Headers& headers,
                 std::optional<size_t> content_length, bool keep_alive) {
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  std::string head = StrCat("HTTP/1.1 ", status, " ", std::string_view(reason.data(), reason.size()), "\r\n");
  auto clean = [](std::string_view v) {
    std::string out(v);
    for (char& c : out) {
      if (c == '\r' || c == '\n') c = ' ';
    }
    return out;
  };
  if (!content_type.empty()) StrAppend(&head, "Content-Type: ", clean(content_type), "\r\n");
  for (const auto& [name, value] : headers) StrAppend(&head, clean(name), ": ", clean(value), "\r\n");
  if (content_length) {
    StrAppend(&head, "Content-Length: ", *content_length, "\r\n");
  } else if (status >= 200 && status != 204 && status != 304) {
    head += "Transfer-Encoding: chunked\r\n";
  }
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

inline std::string ChunkHeader(size_t size) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kHex[size & 15]);
    size >>= 4;
  } while (size != 0);
  out += "\r\n";
  return out;
}

// Something Stop must end: posted to the session's io_context.
class Session {
 public:
  virtual ~Session() = default;
  virtual void Shutdown() = 0;
  // After the network threads stopped: drop what keeps the session alive by itself.
  virtual void ReleaseAfterStop() {}
  // The sweeper's tick (any thread): close if a read deadline has passed.
  virtual void Expire(std::chrono::steady_clock::time_point) {}
};

struct Shared {
  ServerOptions options;
  Handler handler;
  std::optional<TlsContexts> tls;

  std::mutex mu;
  std::condition_variable drained;
  size_t connections = 0;
  std::atomic<bool> stopping{false};
  std::map<Session*, std::weak_ptr<Session>> live;

  void Track(Session* raw, const std::shared_ptr<Session>& session) {
    std::lock_guard<std::mutex> lock(mu);
    live[raw] = session;
  }
  void Untrack(Session* raw) {
    std::lock_guard<std::mutex> lock(mu);
    live.erase(raw);
  }
  bool Stopping() const { return stopping.load(); }

  // One per network thread, each run by its thread alone (as nginx's workers share nothing):
  // a connection stays on the one it was accepted onto, so its handlers never wake another
  // thread. Last, so destroyed first: handlers they still hold end sessions whose destructors
  // use the members above.
  std::vector<std::unique_ptr<net::io_context>> iocs;
};

// One accepted connection, counted while any session holds it. Holds the TLS context the
// connection was made with.
struct Slot {
  Shared& shared;
  std::shared_ptr<ssl::context> tls_context;
  explicit Slot(Shared& s) : shared(s) {}
  ~Slot() {
    std::lock_guard<std::mutex> lock(shared.mu);
    --shared.connections;
    shared.drained.notify_all();
  }
};

template <class S>
PlainStream& Lowest(S& stream) {
  return beast::get_lowest_layer(stream);
}

inline void CloseSocket(PlainStream& s) {
  boost::system::error_code ignored;
  s.socket().shutdown(tcp::socket::shutdown_both, ignored);
  s.socket().close(ignored);
}

}  // namespace berth::http::internal
