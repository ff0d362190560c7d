#pragma once
// File: core/http/http.h
// Berth's own small HTTP server interface. The Boost.Beast adapter (beast_server.cc) is the only
// translation unit that includes Beast or Asio: it keeps compile times down (about 12 s per
// unit that includes Beast) and the library choice local.
//
// Threading: the handler runs on a network thread and must not block. It may keep the
// Responder and answer later from any thread; a Stream or Duplex may be used from any thread.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::http {

// A client certificate the server verified against its client CA: Kubernetes maps the subject's
// CN to the user name and each O to a group.
struct PeerIdentity {
  std::string common_name;
  std::vector<std::string> organizations;
};

struct Request {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // as sent, undecoded, without the query
  std::vector<std::string> segments;         // path split on '/', each percent-decoded
  std::map<std::string, std::string> query;  // decoded ('+' is a space); a repeated key keeps the last
  std::multimap<std::string, std::string> query_all;  // every value of repeated keys (command=...)
  std::map<std::string, std::string> headers;  // names lower-cased; repeated headers joined by ", "
  std::string body;
  std::string target;                        // the request target exactly as sent (path and query)
  std::string remote_address;                // "IP:PORT" of the client
  bool tls = false;
  std::optional<PeerIdentity> peer;          // set when a client certificate was verified
  bool websocket = false;                    // a WebSocket upgrade request
  std::string upgrade;                       // the Upgrade header of any other upgrade ("SPDY/3.1")

  std::string Header(std::string_view name) const;  // lower-case name; "" if absent
  std::string Query(std::string_view name) const;
  std::vector<std::string> QueryAll(std::string_view name) const;
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
  // Queues `data` to be sent at once. False once the stream is closed or the client is gone.
  // When the bytes the client has not taken pass ServerOptions::max_stream_backlog, the
  // connection is dropped and its memory freed (a reader that stopped reading).
  virtual bool Write(std::string_view data) = 0;
  // Ends the body (terminating chunk) once what is queued is sent. Idempotent.
  virtual void Close() = 0;
  // Bytes written but not yet taken by the network: a slow reader shows here.
  virtual size_t Pending() const = 0;
  virtual bool Closed() const = 0;
  // `callback` runs once, when the stream ends for any reason (Close or a disconnect).
  virtual void OnClosed(std::function<void()> callback) = 0;
};

// A connection taken over after an upgrade: a WebSocket (one on_message per message, sent as
// binary frames) or a raw upgraded connection such as SPDY/3.1 (bytes as they arrive).
struct DuplexCallbacks {
  std::function<void(std::string data)> on_message;  // network thread; must not block
  std::function<void()> on_closed;                   // once, when the connection ends
};

class Duplex {
 public:
  virtual ~Duplex() = default;
  // Begins reading. Messages that arrive before Start wait.
  virtual void Start(DuplexCallbacks callbacks) = 0;
  // Queues `data` (a whole WebSocket message). False once closed; a peer whose unread backlog
  // passes ServerOptions::max_stream_backlog is disconnected.
  virtual bool Send(std::string data) = 0;
  // Ends after what is queued is sent (WebSocket: a close frame with `code`). Idempotent.
  virtual void Close(int code = 1000) = 0;
  // Back-pressure towards the peer: while paused nothing more is read from it.
  virtual void PauseReading(bool paused) = 0;
  virtual size_t Pending() const = 0;
  virtual bool Closed() const = 0;
};

struct RelayTls {
  std::string cert_file, key_file;  // PEM client certificate and key
};

class Responder {
 public:
  virtual ~Responder() = default;
  // A Responder dropped without an answer answers 500, so that no connection hangs.
  virtual void Reply(Response response) = 0;
  virtual std::shared_ptr<Stream> StartStream(
      int status, std::string content_type,
      std::vector<std::pair<std::string, std::string>> headers = {}) = 0;
  // For a request with `websocket` set: completes the handshake choosing `subprotocol` (may be
  // empty) and hands over the connection. nullptr when the request is not a WebSocket upgrade.
  virtual std::shared_ptr<Duplex> AcceptWebSocket(std::string subprotocol) = 0;
  // For any other upgrade: answers 101 Switching Protocols with `headers` and hands over the
  // connection's raw bytes.
  virtual std::shared_ptr<Duplex> AcceptUpgrade(std::vector<std::pair<std::string, std::string>> headers) = 0;
  // Relays this connection to host:port, as kube-apiserver relays exec to the kubelet: sends
  // `request_head` (request line and headers, ending with an empty line) and then splices the
  // bytes both ways until either side closes. 502 when the target cannot be reached. With
  // `tls`, the target is spoken to over TLS presenting tls->cert_file/key_file (the agent asks
  // for the apiserver's client certificate); its own certificate is not verified, as
  // kube-apiserver does not verify kubelets without --kubelet-certificate-authority.
  virtual void Relay(std::string host, int port, std::string request_head, const RelayTls* tls = nullptr) = 0;
};

using Handler = std::function<void(Request request, std::shared_ptr<Responder> responder)>;

struct TlsOptions {
  std::string cert_file, key_file;  // PEM; reread for new connections when they change
  std::string client_ca_file;       // optional: verify client certificates against it
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                            // 0: pick a free port
  int threads = 0;                         // network threads; 0: one per core
  size_t max_body_bytes = 3 * 1024 * 1024; // larger bodies get 413 before being buffered
  size_t max_header_bytes = 64 * 1024;     // larger request heads get 431
  size_t max_stream_backlog = 4 * 1024 * 1024;  // unsent bytes of one stream before it is cut
  size_t max_connections = 10000;          // beyond: 503 and close
  absl::Duration header_timeout = absl::Seconds(30);  // to read a request head (also keep-alive idle)
  absl::Duration body_timeout = absl::Seconds(60);    // to read a request body
  std::optional<TlsOptions> tls;           // unset: plain HTTP
  // Answers sent for framing errors and limits (rendered by the caller's table). Unset: a
  // Kubernetes Status object.
  std::function<Response(int status, std::string message)> error_response;
};

class Server {
 public:
  virtual ~Server() = default;
  virtual int port() const = 0;
  // Stops accepting, lets in-flight requests answer, ends open streams with their final chunk
  // and WebSockets with a close frame, then closes what is left. Idempotent.
  virtual void Stop() = 0;
};

absl::StatusOr<std::unique_ptr<Server>> StartServer(ServerOptions options, Handler handler);

// "HOST:PORT" (PORT 0 picks a free port) into options.host/port; InvalidArgument otherwise.
absl::Status ParseListenAddress(std::string_view address, ServerOptions& options);

// Percent-decoding; `plus_is_space` for query components. Invalid escapes stay as they are.
std::string PercentDecode(std::string_view s, bool plus_is_space);
// False when `s` has a '%' not followed by two hex digits.
bool ValidPercentEncoding(std::string_view s);
std::map<std::string, std::string> ParseQuery(std::string_view query);
std::multimap<std::string, std::string> ParseQueryAll(std::string_view query);

// A Kubernetes Status object as JSON (the default error body).
std::string StatusJson(int code, std::string_view message);

}  // namespace berth::http
