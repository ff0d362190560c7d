#pragma once
// File: core/client/http_fetch.h
// GET of an absolute URL with the caller's headers, the body streamed to a callback: the seam
// through which the agent talks to image registries (cpprest_transport.cc implements it; tests
// may substitute their own). Redirects are returned, not followed: the caller decides which
// headers may go to another origin.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::client {

struct FetchRequest {
  std::string url;  // scheme://host[:port]/path?query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string ca_file;       // extra trust for https ("" : the system's)
  bool skip_verify = false;  // no certificate verification (a registry's explicit setting)
  absl::Duration timeout = absl::Seconds(120);  // of inactivity
};

struct FetchResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  // The first header of that name (case-insensitive), "" when absent.
  std::string Header(std::string_view name) const;
};

class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;
  // `on_body` gets the response's status and headers with each chunk of the body as it
  // arrives; returning false stops reading (the connection is dropped). kUnavailable when the
  // server cannot be reached or the transfer breaks; any HTTP status is a response.
  using BodySink = std::function<bool(const FetchResponse& head, std::string_view chunk)>;
  virtual absl::StatusOr<FetchResponse> Get(const FetchRequest& request, const BodySink& on_body) = 0;
};

std::unique_ptr<HttpFetcher> NewCpprestFetcher();

}  // namespace berth::client
