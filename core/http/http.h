#pragma once
// File: core/http/http.h
// Berth's own small HTTP server interface. The cpprestsdk adapter (cpprest_server.cc) is the
// only translation unit that includes <cpprest/...>: it keeps compile times down and a later
// swap (Boost.Beast) local.
//
// Threading: the handler runs on a network thread and must not block. It may keep the
// Responder and answer later from any thread; a Stream may be written from any thread.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::http {

struct Request {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // as sent, undecoded, without the query
  std::vector<std::string> segments;         // path split on '/', each percent-decoded
  std::map<std::string, std::string> query;  // decoded ('+' is a space); a repeated key keeps the last
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string Header(std::string_view name) const;  // lower-case name; "" if absent
  std::string Query(std::string_view name) const;
  bool HasQuery(std::string_view name) const { return query.count(std::string(name)) > 0; }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// A chunked response body that stays open: watch streams and followed logs.
class Stream {
 public:
  virtual ~Stream() = default;
  // Sends `data` at once (flushed). False once the stream is closed or the client is gone.
  virtual bool Write(std::string_view data) = 0;
  // Ends the body (terminating chunk). Idempotent.
  virtual void Close() = 0;
  // Bytes written but not yet taken by the network: a slow reader shows here.
  virtual size_t Pending() const = 0;
  virtual bool Closed() const = 0;
  // `callback` runs once, when the stream ends for any reason (Close or a disconnect).
  virtual void OnClosed(std::function<void()> callback) = 0;
};

class Responder {
 public:
  virtual ~Responder() = default;
  virtual void Reply(Response response) = 0;
  virtual std::shared_ptr<Stream> StartStream(
      int status, std::string content_type,
      std::vector<std::pair<std::string, std::string>> headers = {}) = 0;
};

using Handler = std::function<void(Request request, std::shared_ptr<Responder> responder)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                            // 0: pick a free port
  size_t max_body_bytes = 3 * 1024 * 1024; // larger bodies get 413 before being buffered
  // Answers sent when the body is too large or unreadable (rendered by the caller's table).
  std::function<Response(int status, std::string message)> error_response;
};

class Server {
 public:
  virtual ~Server() = default;
  virtual int port() const = 0;
  // Ends every open stream, then closes the listener (libraries.md §1.6 order). Idempotent.
  virtual void Stop() = 0;
};

// Must run before any other use of the HTTP library in the process (sets its thread pool).
void InitializeNetworkThreads(int threads);

absl::StatusOr<std::unique_ptr<Server>> StartServer(ServerOptions options, Handler handler);

// "HOST:PORT" (PORT 0 picks a free port) into options.host/port; InvalidArgument otherwise.
absl::Status ParseListenAddress(std::string_view address, ServerOptions& options);

// Percent-decoding; `plus_is_space` for query components.
std::string PercentDecode(std::string_view s, bool plus_is_space);
std::map<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace berth::http
