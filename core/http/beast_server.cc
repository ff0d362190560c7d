// The Boost.Beast adapter: the only translation unit that includes Beast or Asio.
//
// One io_context run by one thread per core; each connection's operations run on its own
// strand, so a session's state needs no lock except what other threads touch (the queues of a
// Stream or a Duplex). A connection moves through three kinds of session: HttpSession (requests
// and chunked streams), DuplexSession (after a WebSocket or raw upgrade) and RelaySession (an
// upgraded connection spliced to another server). A Slot travels with the connection and
// counts it towards ServerOptions::max_connections.
#include <utility>  // first: Boost 1.74's Asio needs std::exchange declared under C++20 (libraries.md)

#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <future>
#include <condition_variable>
#include <deque>
#include <map>
#include <optional>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "core/http/http.h"
#include "core/log/log.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"

namespace berth::http {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using Executor = net::strand<net::io_context::executor_type>;
// Streams typed with the connection's strand rather than Beast's tcp_stream (any_io_executor):
// no type-erased executor call per operation, which was a visible share of a GET's profile.
using PlainStream = beast::basic_stream<tcp, Executor, beast::unlimited_rate_policy>;
using TlsStream = beast::ssl_stream<PlainStream>;
using StrandSocket = net::basic_stream_socket<tcp, Executor>;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool HasToken(std::string_view list, std::string_view token) {
  for (std::string_view part : Split(list, ',')) {
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (Lower(part) == Lower(token)) return true;
  }
  return false;
}

// Serialises a response head. Header values a handler passes never carry CR or LF into the
// response (that would let a value split the response).
std::string Head(int status, std::string_view content_type, const Headers& headers,
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

std::string ChunkHeader(size_t size) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kHex[size & 15]);
    size >>= 4;
  } while (size != 0);
  out += "\r\n";
  return out;
}

std::optional<PeerIdentity> VerifiedPeer(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  std::optional<PeerIdentity> out;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    PeerIdentity id;
    X509_NAME* name = X509_get_subject_name(cert);
    auto each = [name](int nid, const std::function<void(std::string)>& fn) {
      for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0; i = X509_NAME_get_index_by_NID(name, nid, i)) {
        unsigned char* utf8 = nullptr;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (n >= 0) fn(std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(n)));
        OPENSSL_free(utf8);
      }
    };
    each(NID_commonName, [&id](std::string v) { id.common_name = std::move(v); });
    each(NID_organizationName, [&id](std::string v) { id.organizations.push_back(std::move(v)); });
    out = std::move(id);
  }
  X509_free(cert);
  return out;
}

// The server's TLS context, rebuilt for new connections when a file changes (certificate
// rotation without a restart). A rebuild that fails keeps the previous context.
class TlsContexts {
 public:
  explicit TlsContexts(TlsOptions options) : options_(std::move(options)) {}

  absl::StatusOr<std::shared_ptr<ssl::context>> Current() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string stamp = Stamp();
    if (context_ != nullptr && stamp == stamp_) return context_;
    auto built = Build();
    if (!built.ok()) {
      if (context_ != nullptr) {
        BERTH_LOG(Warning, "http", "Keeping the previous TLS certificate", "error", built.status().ToString());
        return context_;
      }
      return built.status();
    }
    context_ = *std::move(built);
    stamp_ = stamp;
    return context_;
  }

 private:
  std::string Stamp() const {
    std::string out;
    for (const std::string* f : {&options_.cert_file, &options_.key_file, &options_.client_ca_file}) {
      struct stat st {};
      if (!f->empty() && stat(f->c_str(), &st) == 0) {
        StrAppend(&out, st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_size, ":", st.st_ino, ";");
      } else {
        out += "-;";
      }
    }
    return out;
  }

  absl::StatusOr<std::shared_ptr<ssl::context>> Build() const {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                     ec);
    ctx->use_certificate_chain_file(options_.cert_file, ec);
    if (ec) return absl::InvalidArgumentError(StrCat("TLS certificate ", options_.cert_file, ": ", ec.message()));
    ctx->use_private_key_file(options_.key_file, ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError(StrCat("TLS key ", options_.key_file, ": ", ec.message()));
    if (!options_.client_ca_file.empty()) {
      ctx->load_verify_file(options_.client_ca_file, ec);
      if (ec) return absl::InvalidArgumentError(StrCat("client CA ", options_.client_ca_file, ": ", ec.message()));
      // Asked for, not required: a client without a certificate stays anonymous (as
      // kube-apiserver's VerifyClientCertIfGiven); one with a bad certificate fails the handshake.
      ctx->set_verify_mode(ssl::verify_peer, ec);
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.client_ca_file.c_str())) {
        SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
      }
      static const unsigned char kSessionContext[] = "berth";
      SSL_CTX_set_session_id_context(ctx->native_handle(), kSessionContext, sizeof kSessionContext - 1);
    }
    return ctx;
  }

  TlsOptions options_;
  std::mutex mu_;
  std::shared_ptr<ssl::context> context_;
  std::string stamp_;
};

// Something Stop must end: posted to the session's strand.
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

  // Last, so destroyed first: handlers it still holds end sessions whose destructors use the
  // members above.
  net::io_context ioc;
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

void CloseSocket(PlainStream& s) {
  boost::system::error_code ignored;
  s.socket().shutdown(tcp::socket::shutdown_both, ignored);
  s.socket().close(ignored);
}

// The client side of a relay to an agent: our certificate for its authorization; the agent's
// own (self-signed, as a kubelet's) is not verified. Built once per certificate: rebuilt only
// when the files change (a renewal), not read again for every exec, attach or port-forward.
absl::StatusOr<std::shared_ptr<ssl::context>> BuildRelayClientContext(const RelayTls& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_verify_mode(ssl::verify_none, ec);
  ctx->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) return absl::FailedPreconditionError(StrCat("client certificate ", tls.cert_file, ": ", ec.message()));
  ctx->use_private_key_file(tls.key_file, ssl::context::pem, ec);
  if (ec) return absl::FailedPreconditionError(StrCat("client key ", tls.key_file, ": ", ec.message()));
  return ctx;
}

absl::StatusOr<std::shared_ptr<ssl::context>> RelayClientContext(const RelayTls& tls) {
  struct Cached {
    std::string stamp;
    std::shared_ptr<ssl::context> ctx;
  };
  static std::mutex mu;
  static std::map<std::pair<std::string, std::string>, Cached>* cache = new std::map<std::pair<std::string, std::string>, Cached>();
  auto stamp_of = [](const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return std::string("missing");
    return StrCat(st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
  };
  const std::string stamp = StrCat(stamp_of(tls.cert_file), "/", stamp_of(tls.key_file));
  std::lock_guard<std::mutex> lock(mu);
  Cached& entry = (*cache)[{tls.cert_file, tls.key_file}];
  if (entry.ctx && entry.stamp == stamp) return entry.ctx;
  auto built = BuildRelayClientContext(tls);
  if (!built.ok()) return built.status();
  entry = {stamp, *built};
  return entry.ctx;
}

// ---------------------------------------------------------------------------------------------
// Chunked response bodies.

class StreamImpl final : public Stream {
 public:
  StreamImpl(size_t cap, std::function<void()> kick) : cap_(cap), kick_(std::move(kick)) {}

  bool Write(std::string_view data) override {
    bool kick = false, ok = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return false;
      if (queued_.size() + inflight_ + data.size() > cap_) {
        // A reader that stopped reading: drop it and free what it held.
        closed_ = aborted_ = true;
        std::string().swap(queued_);
        kick = true;
        ok = false;
      } else {
        queued_.append(data);
        kick = !kick_posted_;
        kick_posted_ = true;
      }
    }
    if (kick) kick_();
    return ok;
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    kick_();
  }

  size_t Pending() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return queued_.size() + inflight_;
  }

  bool Closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  void OnClosed(std::function<void()> callback) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!finished_) {
        callbacks_.push_back(std::move(callback));
        return;
      }
    }
    callback();
  }

  // Network side (the session's strand).
  struct Batch {
    std::string data;
    bool end = false, aborted = false;
  };
  Batch Take() {
    std::lock_guard<std::mutex> lock(mu_);
    kick_posted_ = false;
    Batch b;
    b.aborted = aborted_;
    b.data.swap(queued_);
    inflight_ = b.data.size();
    b.end = closed_ && b.data.empty();
    return b;
  }
  void Sent() {
    std::lock_guard<std::mutex> lock(mu_);
    inflight_ = 0;
  }
  bool Aborted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return aborted_;
  }
  void Finished() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = closed_ = true;
      std::string().swap(queued_);
      inflight_ = 0;
      callbacks.swap(callbacks_);
    }
    for (auto& cb : callbacks) cb();
  }

 private:
  const size_t cap_;
  std::function<void()> kick_;
  mutable std::mutex mu_;
  std::string queued_;
  size_t inflight_ = 0;
  bool kick_posted_ = false;
  bool closed_ = false, aborted_ = false, finished_ = false;
  std::vector<std::function<void()>> callbacks_;
};

// ---------------------------------------------------------------------------------------------
// Upgraded connections: one queue-and-pump implementation over two transports.

template <class S>
struct WebSocketTransport {
  websocket::stream<S> ws;
  explicit WebSocketTransport(S&& s) : ws(std::move(s)) {}
  PlainStream& lowest() { return beast::get_lowest_layer(ws); }
  template <class H>
  void Read(beast::flat_buffer& in, H&& h) { ws.async_read(in, std::forward<H>(h)); }
  template <class H>
  void Write(const std::string& data, H&& h) {
    ws.binary(true);
    ws.async_write(net::buffer(data), std::forward<H>(h));
  }
  template <class H>
  void End(int code, H&& h) {
    ws.async_close(websocket::close_reason(static_cast<websocket::close_code>(code)), std::forward<H>(h));
  }
};

template <class S>
struct RawTransport {
  S stream;
  explicit RawTransport(S&& s) : stream(std::move(s)) {}
  PlainStream& lowest() { return beast::get_lowest_layer(stream); }
  template <class H>
  void Read(beast::flat_buffer& in, H&& h) {
    stream.async_read_some(in.prepare(64 * 1024), [&in, h = std::forward<H>(h)](beast::error_code ec, size_t n) mutable {
      in.commit(n);
      h(ec, n);
    });
  }
  template <class H>
  void Write(const std::string& data, H&& h) { net::async_write(stream, net::buffer(data), std::forward<H>(h)); }
  template <class H>
  void End(int, H&& h) {
    boost::system::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    h(ignored);
  }
};

template <class Transport>
class DuplexSession final : public Duplex, public Session,
                            public std::enable_shared_from_this<DuplexSession<Transport>> {
 public:
  DuplexSession(Shared& shared, Executor executor) : shared_(shared), executor_(std::move(executor)) {}
  ~DuplexSession() override { shared_.Untrack(this); }

  // Strand: the HTTP session moves its stream in (then finishes the handshake on it) ...
  template <class S>
  Transport& Emplace(S&& stream) {
    transport_.emplace(std::move(stream));
    return *transport_;
  }

  // ... and hands over the connection.
  void Attach(std::shared_ptr<Slot> slot, std::string leftover) {
    slot_ = std::move(slot);
    attached_ = true;
    if (!leftover.empty()) {
      std::string copy = std::move(leftover);
      pending_in_.push_back(std::move(copy));
    }
    shared_.Track(this, this->shared_from_this());
    Pump();
  }

  // Strand: the handshake failed or the client left before the handover.
  void Abandon() { Finish(); }

  void Start(DuplexCallbacks callbacks) override {
    auto self = this->shared_from_this();
    net::post(executor_, [self, callbacks = std::move(callbacks)]() mutable {
      self->callbacks_ = std::move(callbacks);
      self->started_ = true;
      if (self->finished_) {
        self->RunClosed();
        return;
      }
      self->Pump();
    });
  }

  bool Send(std::string data) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_ || finished_flag_) return false;
      if (backlog_ + data.size() > shared_.options.max_stream_backlog) {
        aborted_ = closing_ = true;
        queue_.clear();
      } else {
        backlog_ += data.size();
        queue_.push_back(std::move(data));
      }
    }
    Kick();
    return true;
  }

  void Close(int code) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      closing_ = true;
      close_code_ = code;
    }
    Kick();
  }

  void PauseReading(bool paused) override {
    auto self = this->shared_from_this();
    net::post(executor_, [self, paused] {
      self->paused_ = paused;
      self->Pump();
    });
  }

  size_t Pending() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return backlog_;
  }

  bool Closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return closing_ || finished_flag_;
  }

  void Shutdown() override { Close(1001); }

 private:
  void Kick() {
    auto self = this->shared_from_this();
    net::post(executor_, [self] { self->Pump(); });
  }

  // Strand: deliver what was read, start the next read, start the next write.
  void Pump() {
    if (finished_ || !attached_) return;
    if (started_) {
      while (!pending_in_.empty() && !paused_) {
        std::string msg = std::move(pending_in_.front());
        pending_in_.pop_front();
        if (callbacks_.on_message) callbacks_.on_message(std::move(msg));
      }
      if (!reading_ && !paused_ && !read_ended_) ReadNext();
    }
    if (writing_) return;
    std::string next;
    bool end = false, aborted = false;
    int code = 1000;
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted = aborted_;
      if (!queue_.empty()) {
        next = std::move(queue_.front());
        queue_.pop_front();
      } else {
        end = closing_;
        code = close_code_;
      }
    }
    if (aborted) {
      CloseSocket(transport_->lowest());
      Finish();
      return;
    }
    if (!next.empty()) {
      writing_ = true;
      out_ = std::move(next);
      auto self = this->shared_from_this();
      transport_->Write(out_, [self](beast::error_code ec, size_t) {
        self->writing_ = false;
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          self->backlog_ -= std::min(self->backlog_, self->out_.size());
        }
        if (ec) return self->Finish();
        self->Pump();
      });
      return;
    }
    if (end && !ending_) {
      ending_ = true;
      writing_ = true;
      auto self = this->shared_from_this();
      transport_->End(code, [self](beast::error_code) {
        self->writing_ = false;
        // Give the peer a moment to answer the close; the read loop ends on its reply.
        if (self->read_ended_ || !self->started_) {
          CloseSocket(self->transport_->lowest());
          self->Finish();
        }
      });
    }
  }

  void ReadNext() {
    reading_ = true;
    auto self = this->shared_from_this();
    transport_->Read(in_, [self](beast::error_code ec, size_t) {
      self->reading_ = false;
      if (ec) {
        self->read_ended_ = true;
        CloseSocket(self->transport_->lowest());
        self->Finish();
        return;
      }
      self->pending_in_.push_back(beast::buffers_to_string(self->in_.data()));
      self->in_.consume(self->in_.size());
      self->Pump();
    });
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_flag_ = closing_ = true;
      queue_.clear();
      backlog_ = 0;
    }
    if (started_) RunClosed();
  }

  void RunClosed() {
    auto cb = std::move(callbacks_.on_closed);
    callbacks_ = {};
    if (cb) cb();
    slot_.reset();
  }

  Shared& shared_;
  Executor executor_;
  std::shared_ptr<Slot> slot_;
  std::optional<Transport> transport_;
  DuplexCallbacks callbacks_;
  beast::flat_buffer in_;
  std::deque<std::string> pending_in_;
  std::string out_;
  // Strand-only state.
  bool attached_ = false, started_ = false, paused_ = false, reading_ = false, writing_ = false;
  bool read_ended_ = false, ending_ = false, finished_ = false;
  // Shared with callers of Send/Close.
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  size_t backlog_ = 0;
  bool closing_ = false, aborted_ = false, finished_flag_ = false;
  int close_code_ = 1000;
};

// An upgraded connection spliced to another server (exec and port-forward to the agent).
template <class S, class U>
class RelaySession final : public Session, public std::enable_shared_from_this<RelaySession<S, U>> {
 public:
  RelaySession(Shared& shared, std::shared_ptr<Slot> slot, S&& client, U&& upstream)
      : shared_(shared), slot_(std::move(slot)), client_(std::move(client)), upstream_(std::move(upstream)) {}
  ~RelaySession() override { shared_.Untrack(this); }

  void Start(std::string first) {
    shared_.Track(this, this->shared_from_this());
    Lowest(client_).expires_never();
    Lowest(upstream_).expires_never();
    first_ = std::move(first);
    auto self = this->shared_from_this();
    net::async_write(upstream_, net::buffer(first_), [self](beast::error_code ec, size_t) {
      if (ec) return self->End();
      self->Pump(self->client_, self->upstream_, self->from_client_);
      self->Pump(self->upstream_, self->client_, self->from_upstream_);
    });
  }

  void Shutdown() override {
    auto self = this->shared_from_this();
    net::post(Lowest(client_).get_executor(), [self] { self->End(); });
  }

 private:
  template <class From, class To>
  void Pump(From& from, To& to, std::array<char, 32 * 1024>& buf) {
    auto self = this->shared_from_this();
    from.async_read_some(net::buffer(buf), [self, &from, &to, &buf](beast::error_code ec, size_t n) {
      if (ec) return self->End();
      net::async_write(to, net::buffer(buf.data(), n), [self, &from, &to, &buf](beast::error_code wec, size_t) {
        if (wec) return self->End();
        self->Pump(from, to, buf);
      });
    });
  }

  void End() {
    if (ended_) return;
    ended_ = true;
    CloseSocket(Lowest(client_));
    CloseSocket(Lowest(upstream_));
  }

  Shared& shared_;
  std::shared_ptr<Slot> slot_;
  S client_;
  U upstream_;
  std::string first_;
  std::array<char, 32 * 1024> from_client_{}, from_upstream_{};
  bool ended_ = false;
};

// ---------------------------------------------------------------------------------------------
// HTTP requests on one connection.

template <class S>
class HttpSession;

template <class S>
class ResponderImpl final : public Responder {
 public:
  ResponderImpl(std::weak_ptr<HttpSession<S>> session, Executor executor, Shared& shared, bool websocket)
      : session_(std::move(session)), executor_(std::move(executor)), shared_(shared), websocket_(websocket) {}

  ~ResponderImpl() override {
    if (!answered_.exchange(true)) {
      Post([](HttpSession<S>& s) { s.SendError(500, "the server dropped the request without an answer"); });
    }
  }

  void Reply(Response response) override {
    if (answered_.exchange(true)) return;
    Post([response = std::move(response)](HttpSession<S>& s) mutable { s.SendResponse(std::move(response)); });
  }

  std::shared_ptr<Stream> StartStream(int status, std::string content_type, Headers headers) override;

  std::shared_ptr<Duplex> AcceptWebSocket(std::string subprotocol) override {
    if (!websocket_ || answered_.exchange(true)) return nullptr;
    auto duplex = std::make_shared<DuplexSession<WebSocketTransport<S>>>(shared_, executor_);
    Post([duplex, subprotocol = std::move(subprotocol)](HttpSession<S>& s) mutable {
      s.UpgradeWebSocket(duplex, std::move(subprotocol));
    }, [duplex] { duplex->Abandon(); });
    return duplex;
  }

  std::shared_ptr<Duplex> AcceptUpgrade(Headers headers) override {
    if (answered_.exchange(true)) return nullptr;
    auto duplex = std::make_shared<DuplexSession<RawTransport<S>>>(shared_, executor_);
    Post([duplex, headers = std::move(headers)](HttpSession<S>& s) mutable { s.UpgradeRaw(duplex, std::move(headers)); },
         [duplex] { duplex->Abandon(); });
    return duplex;
  }

  void Relay(std::string host, int port, std::string request_head, const RelayTls* tls) override {
    if (answered_.exchange(true)) return;
    std::optional<RelayTls> tls_copy;
    if (tls != nullptr) tls_copy = *tls;
    Post([host = std::move(host), port, head = std::move(request_head), tls_copy](HttpSession<S>& s) mutable {
      s.Relay(std::move(host), port, std::move(head), tls_copy);
    });
  }

 private:
  template <class F>
  void Post(F&& f, std::function<void()> gone = nullptr) {
    std::weak_ptr<HttpSession<S>> weak = session_;
    if (executor_.running_in_this_thread()) {
      // Answered from within the handler (a GET served inline): no second trip through the
      // scheduler. The session is idle here: its Dispatch has handed over and only returns.
      if (auto s = weak.lock()) {
        f(*s);
      } else if (gone) {
        gone();
      }
      return;
    }
    net::post(executor_, [weak, f = std::forward<F>(f), gone = std::move(gone)]() mutable {
      if (auto s = weak.lock()) {
        f(*s);
      } else if (gone) {
        gone();
      }
    });
  }

  std::weak_ptr<HttpSession<S>> session_;
  Executor executor_;
  Shared& shared_;
  bool websocket_;
  std::atomic<bool> answered_{false};
};

template <class S>
class HttpSession final : public Session, public std::enable_shared_from_this<HttpSession<S>> {
 public:
  HttpSession(Shared& shared, std::shared_ptr<Slot> slot, S&& stream, Executor executor, std::string remote)
      : shared_(shared), slot_(std::move(slot)), stream_(std::move(stream)), executor_(std::move(executor)),
        remote_(std::move(remote)) {}
  ~HttpSession() override { shared_.Untrack(this); }

  void Start() {
    shared_.Track(this, this->shared_from_this());
    if constexpr (std::is_same_v<S, TlsStream>) {
      Arm(shared_.options.header_timeout);
      auto self = this->shared_from_this();
      stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return self->CloseNow();
        self->peer_ = VerifiedPeer(self->stream_.native_handle());
        self->ReadHeader();
      });
    } else {
      ReadHeader();
    }
  }

  void Shutdown() override {
    auto self = this->shared_from_this();
    net::post(executor_, [self] {
      self->keep_alive_ = false;
      switch (self->phase_) {
        case Phase::kReading:
          self->CloseNow();
          break;
        case Phase::kStreaming:
          if (self->stream_state_) self->stream_state_->Close();
          break;
        default:
          break;  // the answer in progress closes the connection when it is written
      }
    });
  }

  // ---- called on the strand by ResponderImpl ----

  void SendResponse(Response r) {
    Answered();
    if (phase_ != Phase::kHandling) return;
    keep_alive_ = keep_alive_ && !shared_.Stopping();
    out_ = Head(r.status, r.content_type, r.headers, r.body.size(), keep_alive_);
    out_ += r.body;
    WriteThenContinue();
  }

  void SendError(int status, std::string message) {
    Answered();
    if (phase_ != Phase::kHandling && phase_ != Phase::kReading) return;
    phase_ = Phase::kHandling;
    keep_alive_ = false;
    Response r = shared_.options.error_response(status, std::move(message));
    out_ = Head(r.status, r.content_type, r.headers, r.body.size(), false);
    out_ += r.body;
    WriteThenContinue();
  }

  void BeginStream(const std::shared_ptr<StreamImpl>& stream, int status, std::string content_type, Headers headers) {
    Answered();
    if (phase_ != Phase::kHandling) {
      stream->Finished();
      return;
    }
    phase_ = Phase::kStreaming;
    stream_state_ = stream;
    // A stream ends its connection: the read that notices a client leaving stays posted while it
    // runs, so the connection cannot go back to reading requests.
    keep_alive_ = false;
    out_ = Head(status, content_type, headers, std::nullopt, false);
    writing_ = true;
    auto self = this->shared_from_this();
    net::async_write(stream_, net::buffer(out_), [self](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->EndStream();
      self->WatchForDisconnect();
      self->FlushStream();
    });
  }

  void FlushStream() {
    if (phase_ != Phase::kStreaming) return;
    if (stream_state_->Aborted()) {
      // Also when a write is stuck on a reader that stopped reading: closing the socket ends it.
      BERTH_LOG(Warning, "http", "Dropping a client that stopped reading its stream", "client", remote_);
      return EndStream();
    }
    if (writing_) return;
    StreamImpl::Batch batch = stream_state_->Take();
    if (batch.aborted) return EndStream();
    auto self = this->shared_from_this();
    if (!batch.data.empty()) {
      // Header, data and trailer as one gathered write: the data is not copied again.
      out_ = ChunkHeader(batch.data.size());
      chunk_ = std::move(batch.data);
      std::array<net::const_buffer, 3> parts{net::buffer(out_), net::buffer(chunk_), net::buffer("\r\n", 2)};
      writing_ = true;
      net::async_write(stream_, parts, [self](beast::error_code ec, size_t) {
        self->writing_ = false;
        self->stream_state_->Sent();
        if (ec) return self->EndStream();
        self->FlushStream();
      });
      return;
    }
    if (batch.end) {
      out_ = "0\r\n\r\n";
      writing_ = true;
      net::async_write(stream_, net::buffer(out_), [self](beast::error_code, size_t) {
        self->writing_ = false;
        self->EndStream();
      });
    }
  }

  void UpgradeWebSocket(const std::shared_ptr<DuplexSession<WebSocketTransport<S>>>& duplex, std::string subprotocol) {
    Answered();
    if (phase_ != Phase::kHandling) return duplex->Abandon();
    phase_ = Phase::kDone;
    Disarm();
    auto& ws = duplex->Emplace(std::move(stream_)).ws;
    websocket::stream_base::timeout timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = std::chrono::seconds(60);
    timeouts.keep_alive_pings = true;  // a peer that vanished is noticed within a minute
    ws.set_option(timeouts);
    ws.read_message_max(shared_.options.max_body_bytes);
    ws.auto_fragment(false);  // one frame per message: fewer headers, and simple clients read it whole
    ws.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
      if (!subprotocol.empty()) res.set(bhttp::field::sec_websocket_protocol, subprotocol);
    }));
    // The handshake reads request_: this session lives until it completes.
    auto self = this->shared_from_this();
    ws.async_accept(request_, [self, duplex](beast::error_code ec) mutable {
      if (ec) return duplex->Abandon();
      duplex->Attach(self->slot_, "");
    });
  }

  void UpgradeRaw(const std::shared_ptr<DuplexSession<RawTransport<S>>>& duplex, Headers headers) {
    Answered();
    if (phase_ != Phase::kHandling) return duplex->Abandon();
    phase_ = Phase::kDone;
    headers.emplace_back("Connection", "Upgrade");
    out_ = Head(101, "", headers, std::nullopt, true);
    Disarm();
    auto self = this->shared_from_this();
    net::async_write(stream_, net::buffer(out_), [self, duplex](beast::error_code ec, size_t) {
      if (ec) return duplex->Abandon();
      std::string leftover = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      duplex->Emplace(std::move(self->stream_));
      duplex->Attach(self->slot_, std::move(leftover));
    });
  }

  void Relay(std::string host, int port, std::string head, std::optional<RelayTls> tls) {
    Answered();
    if (phase_ != Phase::kHandling) return;
    auto self = this->shared_from_this();
    std::shared_ptr<ssl::context> client_tls;
    if (tls.has_value()) {
      auto made = RelayClientContext(*tls);
      if (!made.ok()) return SendError(502, StrCat("cannot reach ", host, ": ", made.status().message()));
      client_tls = *std::move(made);
    }
    auto upstream = std::make_shared<PlainStream>(executor_);
    upstream->expires_after(std::chrono::seconds(10));
    auto connected = [self, upstream, client_tls, head = std::move(head), host](beast::error_code ec) mutable {
      if (ec) {
        self->phase_ = Phase::kHandling;
        return self->SendError(502, StrCat("cannot reach ", host, ": ", ec.message()));
      }
      upstream->socket().set_option(tcp::no_delay(true), ec);
      if (client_tls == nullptr) {
        self->StartRelay(std::move(*upstream), std::move(head));
        return;
      }
      auto secured = std::make_shared<TlsStream>(std::move(*upstream), *client_tls);
      SSL_set_tlsext_host_name(secured->native_handle(), host.c_str());
      secured->async_handshake(ssl::stream_base::client, [self, secured, client_tls, host, head = std::move(head)](
                                                             beast::error_code hec) mutable {
        if (hec) {
          self->phase_ = Phase::kHandling;
          return self->SendError(502, StrCat("cannot reach ", host, ": TLS: ", hec.message()));
        }
        self->StartRelay(std::move(*secured), std::move(head));
      });
    };
    phase_ = Phase::kRelaying;
    boost::system::error_code ec;
    net::ip::address address = net::ip::make_address(host, ec);
    if (!ec) {
      upstream->async_connect(tcp::endpoint(address, static_cast<uint16_t>(port)), std::move(connected));
      return;
    }
    auto resolver = std::make_shared<tcp::resolver>(executor_);
    resolver->async_resolve(host, std::to_string(port),
                            [resolver, upstream, connected = std::move(connected)](
                                beast::error_code rec, tcp::resolver::results_type results) mutable {
                              if (rec) return connected(rec);
                              upstream->async_connect(results, [connected = std::move(connected)](
                                                                   beast::error_code cec, const tcp::endpoint&) mutable {
                                connected(cec);
                              });
                            });
  }

 private:
  template <class U>
  void StartRelay(U&& upstream, std::string head) {
    phase_ = Phase::kDone;
    head += beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    auto relay = std::make_shared<RelaySession<S, std::decay_t<U>>>(shared_, slot_, std::move(stream_), std::move(upstream));
    relay->Start(std::move(head));
  }

  enum class Phase { kReading, kHandling, kStreaming, kRelaying, kDone };

  // The handler holds only a weak reference (a Responder may outlive the server); until it
  // answers, the session keeps itself alive. Only called from ResponderImpl's posts, which hold
  // a reference while they run.
  void Answered() { self_until_answered_.reset(); }

  // Read deadlines without a timer per read: the server's sweeper looks at them twice a
  // second (a timer armed and cancelled per read was a visible share of a GET).
  void Arm(absl::Duration d) {
    deadline_.store((RealClock::Get().MonotonicNow() + absl::ToChronoNanoseconds(d)).time_since_epoch().count());
  }
  void Disarm() { deadline_.store(0); }

 public:
  void ReleaseAfterStop() override { self_until_answered_.reset(); }

  void Expire(std::chrono::steady_clock::time_point now) override {
    int64_t d = deadline_.load();
    if (d == 0 || now.time_since_epoch().count() < d) return;
    auto self = this->shared_from_this();
    net::post(executor_, [self, now] {
      int64_t again = self->deadline_.load();
      if (again != 0 && now.time_since_epoch().count() >= again) self->CloseNow();
    });
  }

 private:

  void ReadHeader() {
    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.max_header_bytes));
    parser_->body_limit(shared_.options.max_body_bytes);
    Arm(shared_.options.header_timeout);
    auto self = this->shared_from_this();
    bhttp::async_read_header(stream_, buffer_, *parser_, [self](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    std::string_view target(req.target().data(), req.target().size());
    for (unsigned char c : target) {
      if (c <= 0x20 || c == 0x7f) return Reject(400, "the request target contains a control character or space");
    }
    if (target.empty() || (target[0] != '/' && target != "*")) {
      return Reject(400, "the request target must be an absolute path");
    }
    if (!ValidPercentEncoding(target)) return Reject(400, StrCat("invalid URL escape in \"", target, "\""));
    auto te = req.find(bhttp::field::transfer_encoding);
    if (te != req.end() && !parser_->chunked()) {
      return Reject(400, "unsupported Transfer-Encoding (only chunked is accepted)");
    }
    auto cl = req.find(bhttp::field::content_length);
    if (cl != req.end() && parser_->content_length() && *parser_->content_length() > shared_.options.max_body_bytes) {
      return Reject(413, TooLarge());
    }
    if (parser_->is_done()) return Dispatch();
    auto expect = req.find(bhttp::field::expect);
    if (expect != req.end()) {
      if (!beast::iequals(expect->value(), "100-continue")) return Reject(417, "only Expect: 100-continue is supported");
      out_ = "HTTP/1.1 100 Continue\r\n\r\n";
      auto self = this->shared_from_this();
      net::async_write(stream_, net::buffer(out_), [self](beast::error_code wec, size_t) {
        if (wec) return self->CloseNow();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Arm(shared_.options.body_timeout);
    auto self = this->shared_from_this();
    bhttp::async_read(stream_, buffer_, *parser_, [self](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      self->Dispatch();
    });
  }

  std::string TooLarge() const {
    return StrCat("the request body is larger than the limit of ", shared_.options.max_body_bytes, " bytes");
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      return Reject(431, StrCat("the request head is larger than the limit of ", shared_.options.max_header_bytes, " bytes"));
    }
    if (ec == bhttp::error::body_limit) return Reject(413, TooLarge());
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec.category() == net::error::get_ssl_category() || ec == ssl::error::stream_truncated ||
        (parser_ && !parser_->got_some())) {
      return CloseNow();
    }
    Reject(400, StrCat("malformed request: ", ec.message()));
  }

  // Framing errors and limits: answer, then close the connection (what follows cannot be
  // trusted to be a request boundary).
  void Reject(int status, std::string message) {
    phase_ = Phase::kHandling;
    linger_ = true;
    SendError(status, std::move(message));
  }

  // After refusing a request whose body is still coming, read and drop what the client sends
  // for a while before closing: a client still writing its body then reads the answer instead
  // of a connection reset (nginx's lingering close).
  void LingeringClose() {
    boost::system::error_code ignored;
    Lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ignored);
    Arm(absl::Seconds(2));
    Discard(0);
  }

  void Discard(size_t total) {
    if (total > 4 * shared_.options.max_body_bytes) return CloseNow();
    auto self = this->shared_from_this();
    Lowest(stream_).async_read_some(net::buffer(discard_), [self, total](beast::error_code ec, size_t n) {
      if (ec) return self->CloseNow();
      self->Discard(total + n);
    });
  }

  void Dispatch() {
    bhttp::request<bhttp::string_body> msg = parser_->release();
    Request r;
    r.method = std::string(msg.method_string());
    r.target = std::string(msg.target());
    std::string_view target = r.target;
    size_t q = target.find('?');
    r.path = std::string(target.substr(0, q));
    for (std::string_view seg : Split(std::string_view(r.path).substr(1), '/')) {
      if (!seg.empty()) r.segments.push_back(PercentDecode(seg, false));
    }
    if (q != std::string_view::npos) {
      r.query = ParseQuery(target.substr(q + 1));
      r.query_all = ParseQueryAll(target.substr(q + 1));
    }
    for (const auto& field : msg) {
      std::string name = Lower(std::string_view(field.name_string().data(), field.name_string().size()));
      std::string value(field.value());
      auto [it, inserted] = r.headers.emplace(name, value);
      if (!inserted) StrAppend(&it->second, ", ", value);
    }
    r.body = std::move(msg.body());
    r.remote_address = remote_;
    r.tls = std::is_same_v<S, TlsStream>;
    r.peer = peer_;
    r.websocket = websocket::is_upgrade(msg);
    if (!r.websocket && HasToken(r.Header("connection"), "upgrade")) r.upgrade = r.Header("upgrade");
    keep_alive_ = msg.keep_alive();
    request_ = std::move(msg);
    phase_ = Phase::kHandling;
    Disarm();
    auto self = this->shared_from_this();
    self_until_answered_ = self;
    auto responder = std::make_shared<ResponderImpl<S>>(self, executor_, shared_, r.websocket);
    shared_.handler(std::move(r), std::move(responder));
  }

  void WriteThenContinue() {
    writing_ = true;
    auto self = this->shared_from_this();
    net::async_write(stream_, net::buffer(out_), [self](beast::error_code ec, size_t) {
      self->writing_ = false;
      std::string().swap(self->out_);
      if (!ec && !self->keep_alive_ && self->linger_) return self->LingeringClose();
      if (ec || !self->keep_alive_) return self->CloseNow();
      self->ReadHeader();
    });
  }

  // While a stream runs nothing is expected from the client: a read that ends tells that the
  // client left (a watcher's memory is freed at once instead of at the next event).
  void WatchForDisconnect() {
    auto self = this->shared_from_this();
    stream_.async_read_some(net::buffer(probe_), [self](beast::error_code ec, size_t) {
      if (ec) return self->EndStream();
      if (self->phase_ == Phase::kStreaming) self->WatchForDisconnect();
    });
  }

  void EndStream() {
    if (phase_ != Phase::kStreaming) return;
    phase_ = Phase::kDone;
    CloseNow();
    if (stream_state_) stream_state_->Finished();
  }

  void CloseNow() {
    Disarm();
    if (phase_ != Phase::kStreaming) phase_ = Phase::kDone;
    CloseSocket(Lowest(stream_));
  }

  Shared& shared_;
  std::shared_ptr<Slot> slot_;
  S stream_;
  Executor executor_;
  std::string remote_;
  std::optional<PeerIdentity> peer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::request<bhttp::string_body> request_;
  std::string out_;
  std::shared_ptr<HttpSession> self_until_answered_;
  std::atomic<int64_t> deadline_{0};  // steady-clock nanoseconds; 0: none
  std::string chunk_;  // the stream data being written
  std::array<char, 512> probe_{};
  std::array<char, 16384> discard_{};
  bool linger_ = false;
  std::shared_ptr<StreamImpl> stream_state_;
  Phase phase_ = Phase::kReading;
  bool keep_alive_ = true;
  bool writing_ = false;
};

template <class S>
std::shared_ptr<Stream> ResponderImpl<S>::StartStream(int status, std::string content_type, Headers headers) {
  std::weak_ptr<HttpSession<S>> weak = session_;
  Executor executor = executor_;
  auto stream = std::make_shared<StreamImpl>(shared_.options.max_stream_backlog, [weak, executor] {
    net::post(executor, [weak] {
      if (auto s = weak.lock()) s->FlushStream();
    });
  });
  if (answered_.exchange(true)) {
    stream->Finished();
    return stream;
  }
  Post([stream, status, content_type = std::move(content_type), headers = std::move(headers)](HttpSession<S>& s) mutable {
    s.BeginStream(stream, status, std::move(content_type), std::move(headers));
  }, [stream] { stream->Finished(); });
  return stream;
}

// ---------------------------------------------------------------------------------------------

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(std::unique_ptr<Shared> shared)
      : shared_(std::move(shared)), acceptor_(net::make_strand(shared_->ioc)),
        work_(net::make_work_guard(shared_->ioc)) {}

  ~ServerImpl() override {
    Stop();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    // Sessions still waiting for an answer keep themselves alive: they go before the io_context.
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      for (auto& [raw, weak] : shared_->live) {
        if (auto s = weak.lock()) sessions.push_back(std::move(s));
      }
    }
    for (auto& s : sessions) s->ReleaseAfterStop();
  }

  absl::Status Listen() {
    boost::system::error_code ec;
    net::ip::address address = net::ip::make_address(shared_->options.host == "localhost" ? "127.0.0.1" : shared_->options.host, ec);
    if (ec) return absl::InvalidArgumentError(StrCat("cannot listen on \"", shared_->options.host, "\": not an IP address"));
    tcp::endpoint endpoint(address, static_cast<uint16_t>(shared_->options.port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(StrCat("cannot listen on ", shared_->options.host, ":", shared_->options.port, ": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    Sweep();
    int threads = shared_->options.threads > 0 ? shared_->options.threads
                                               : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { shared_->ioc.run(); });
    return absl::OkStatus();
  }

  int port() const override { return port_; }

  void Stop() override {
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (shared_->stopping.exchange(true)) return;
      for (auto& [raw, weak] : shared_->live) {
        if (auto s = weak.lock()) sessions.push_back(std::move(s));
      }
    }
    std::promise<void> closed;
    net::post(acceptor_.get_executor(), [this, &closed] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      sweeper_.cancel();
      closed.set_value();
    });
    if (!threads_.empty()) closed.get_future().wait();
    for (auto& s : sessions) s->Shutdown();
    sessions.clear();
    {
      // In-flight answers and final chunks get a few seconds; then whatever is left is cut.
      std::unique_lock<std::mutex> lock(shared_->mu);
      shared_->drained.wait_for(lock, std::chrono::seconds(5), [this] { return shared_->connections == 0; });
    }
    work_.reset();
    shared_->ioc.stop();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  // Twice a second: sessions whose read deadline passed are closed.
  void Sweep() {
    sweeper_.expires_after(std::chrono::milliseconds(500));
    sweeper_.async_wait([this](beast::error_code ec) {
      if (ec || shared_->Stopping()) return;
      std::vector<std::shared_ptr<Session>> sessions;
      {
        std::lock_guard<std::mutex> lock(shared_->mu);
        sessions.reserve(shared_->live.size());
        for (auto& [raw, weak] : shared_->live) {
          if (auto s = weak.lock()) sessions.push_back(std::move(s));
        }
      }
      auto now = RealClock::Get().MonotonicNow();
      for (auto& s : sessions) s->Expire(now);
      Sweep();
    });
  }

  void Accept() {
    Executor strand = net::make_strand(shared_->ioc);
    acceptor_.async_accept(strand, [this, strand](beast::error_code ec, StrandSocket socket) {
      if (ec) {
        if (!acceptor_.is_open()) return;
        BERTH_LOG(Warning, "http", "Accept failed", "error", ec.message());
      } else {
        OnAccept(std::move(socket), strand);
      }
      if (acceptor_.is_open()) Accept();
    });
  }

  void OnAccept(StrandSocket socket, Executor executor) {
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    std::string remote;
    auto endpoint = socket.remote_endpoint(ec);
    if (!ec) remote = StrCat(endpoint.address().to_string(), ":", endpoint.port());
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (shared_->stopping) return;
      if (shared_->connections >= shared_->options.max_connections) {
        // Best effort: the answer fits a socket buffer; the connection is closed either way.
        Response r = shared_->options.error_response(503, "too many open connections");
        std::string text = Head(503, r.content_type, {}, r.body.size(), false) + r.body;
        socket.non_blocking(true, ec);
        socket.write_some(net::buffer(text), ec);
        socket.close(ec);
        return;
      }
      ++shared_->connections;
    }
    auto slot = std::make_shared<Slot>(*shared_);
    if (shared_->tls) {
      auto ctx = shared_->tls->Current();
      if (!ctx.ok()) {
        BERTH_LOG(Error, "http", "No TLS certificate to serve", "error", ctx.status().ToString());
        return;
      }
      slot->tls_context = *ctx;
      auto session = std::make_shared<HttpSession<TlsStream>>(
          *shared_, slot, TlsStream(PlainStream(std::move(socket)), *slot->tls_context), executor, remote);
      session->Start();
    } else {
      auto session = std::make_shared<HttpSession<PlainStream>>(*shared_, slot, PlainStream(std::move(socket)),
                                                                executor, remote);
      session->Start();
    }
  }

  std::unique_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  net::steady_timer sweeper_{acceptor_.get_executor()};
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  int port_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> StartServer(ServerOptions options, Handler handler) {
  if (!options.error_response) {
    options.error_response = [](int status, std::string message) {
      Response r;
      r.status = status;
      r.body = StatusJson(status, message);
      return r;
    };
  }
  auto shared = std::make_unique<Shared>();
  if (options.tls) {
    shared->tls.emplace(*options.tls);
    auto first = shared->tls->Current();
    if (!first.ok()) return first.status();
  }
  shared->options = std::move(options);
  shared->handler = std::move(handler);
  auto server = std::make_unique<ServerImpl>(std::move(shared));
  if (absl::Status s = server->Listen(); !s.ok()) return s;
  return server;
}

}  // namespace berth::http
