#pragma once
// File: core/client/transport.h
// The HTTP client seam: ApiClient speaks Kubernetes over it; cpprest_transport.cc is the real
// one (the only client TU that includes <cpprest/...>); tests may substitute their own.
//
// Calls block the calling thread: never call them from the HTTP library's own threads.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::client {

struct HttpResult {
  int status = 0;
  std::string body;
  std::string content_type;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // kUnavailable when the server cannot be reached; any HTTP status is a successful result.
  virtual absl::StatusOr<HttpResult> Send(const std::string& method, const std::string& path_and_query,
                                          const std::string& body, const std::string& content_type) = 0;
  // Streams a GET: `on_line` gets each newline-terminated line until the server ends the
  // stream, `on_line` returns false, or `cancel` becomes true (checked between lines; a line
  // arrives at least every bookmark interval). Returns the final HTTP status, or the error.
  virtual absl::StatusOr<int> Stream(const std::string& path_and_query,
                                     const std::function<bool(const std::string& line)>& on_line,
                                     const std::atomic<bool>& cancel) = 0;
  // Aborts every stream in progress whose `cancel` flag is set (a blocked read returns at once).
  virtual void CancelStreams() = 0;
};

// Sizes the HTTP client library's thread pool; must run before any client is made.
void InitializeClientThreads(int threads);

struct Connection;
// base_url: http://host:port, unauthenticated, verified against the system roots if https.
std::unique_ptr<Transport> NewCpprestTransport(const std::string& base_url);
std::unique_ptr<Transport> NewCpprestTransport(const Connection& connection);

}  // namespace berth::client
