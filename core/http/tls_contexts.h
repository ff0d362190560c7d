#pragma once
// File: core/http/tls_contexts.h
// TLS for the Beast adapter: the server's context, rebuilt for new connections when its files
// change; the client context of a relay to an agent; the verified identity of a peer.
#include <utility>  // first: Boost 1.74's Asio needs std::exchange declared under C++20 (libraries.md)

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/ssl.hpp>

#include "absl/status/statusor.h"
#include "core/http/http.h"

namespace berth::http::internal {

namespace ssl = boost::asio::ssl;

// The subject CN and O values of the peer's certificate, when one was sent and verified.
std::optional<PeerIdentity> VerifiedPeer(SSL* ssl);

// The server's TLS context, rebuilt for new connections when a file changes (certificate
// rotation without a restart). A rebuild that fails keeps the previous context.
class TlsContexts {
 public:
  explicit TlsContexts(TlsOptions options) : options_(std::move(options)) {}

  absl::StatusOr<std::shared_ptr<ssl::context>> Current();

 private:
  std::string Stamp() const;
  absl::StatusOr<std::shared_ptr<ssl::context>> Build() const;

  TlsOptions options_;
  std::mutex mu_;
  std::shared_ptr<ssl::context> context_;
  std::string stamp_;
};

// The client side of a relay to an agent: our certificate for its authorization; the agent's
// own (self-signed, as a kubelet's) is not verified. Built once per certificate: rebuilt only
// when the files change (a renewal), not read again for every exec, attach or port-forward.
absl::StatusOr<std::shared_ptr<ssl::context>> RelayClientContext(const RelayTls& tls);

}  // namespace berth::http::internal
