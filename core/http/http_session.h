#pragma once
// File: core/http/http_session.h
// HTTP requests on one connection (plain or TLS): reading with limits and deadlines, answers and
// chunked streams, and the upgrades that hand the connection to a DuplexSession or a RelaySession.

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/http/beast_common.h"
#include "core/http/chunked_stream.h"
#include "core/http/duplex_session.h"
#include "core/http/relay_session.h"
#include "core/log/log.h"
#include "core/time/clock.h"

namespace berth::http::internal {

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
      // Asio turns on SSL_MODE_RELEASE_BUFFERS, which frees OpenSSL's record buffers whenever
      // they empty and allocates them again for the next record: twice per request on a
      // keep-alive connection (TLS GETs at c=64: +6%). ~34 KiB per connection is kept instead,
      // until it becomes a stream (BeginStream): a watcher mostly waits.
      SSL_clear_mode(stream_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
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

  // ---- called on the session's thread by ResponderImpl ----

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
    if constexpr (std::is_same_v<S, TlsStream>) {
      // A watch stream mostly waits: its buffers are worth more freed than kept (see Start).
      SSL_set_mode(stream_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    }
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
    // A loop, not recursion: a write that completes at once takes the next batch here. The
    // session holds itself (an atomic count shared with the thread that kicked it) only for a
    // write that has to wait.
    while (phase_ == Phase::kStreaming) {
      if (stream_state_->Aborted()) {
        // Also when a write is stuck on a reader that stopped reading: closing the socket ends it.
        BERTH_LOG(Warning, "http", "Dropping a client that stopped reading its stream", "client", remote_);
        return EndStream();
      }
      if (writing_) return;
      StreamImpl::Batch batch = stream_state_->Take();
      if (batch.aborted) return EndStream();
      if (!batch.data.empty()) {
        // Header, data and trailer as one gathered write: the data is not copied again.
        out_ = ChunkHeader(batch.data.size());
        chunk_ = std::move(batch.data);
        std::array<net::const_buffer, 3> parts{net::buffer(out_), net::buffer(chunk_), net::buffer("\r\n", 2)};
        beast::error_code ec;
        size_t written = WriteNow(parts, ec);
        if (ec || written == net::buffer_size(parts)) {
          stream_state_->Sent();
          if (ec) return EndStream();
          continue;
        }
        WriteRest(parts, written, [self = this->shared_from_this()](beast::error_code ec, size_t) {
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
        net::async_write(stream_, net::buffer(out_), [self = this->shared_from_this()](beast::error_code, size_t) {
          self->writing_ = false;
          self->EndStream();
        });
      }
      return;
    }
  }

  // Offers `buffers` to one non-blocking sendmsg on a plain socket and returns how many bytes
  // the kernel took: almost always all of them (a GET's answer, a watch event), which spares
  // the trip through the scheduler an async_write's completion takes. The caller writes the
  // rest asynchronously. TLS takes nothing here (0).
  template <class Buffers>
  size_t WriteNow(const Buffers& buffers, beast::error_code& ec) {
    if constexpr (std::is_same_v<S, PlainStream>) {
      auto& socket = stream_.socket();
      if (!socket.non_blocking()) socket.non_blocking(true, ec);
      size_t written = ec ? 0 : socket.write_some(buffers, ec);
      if (ec == net::error::would_block || ec == net::error::try_again) {
        ec = {};
        written = 0;
      }
      return written;
    }
    return 0;
  }

  // Writes what WriteNow left of `buffers` (all of them on TLS); `done` runs when it is out.
  template <class Buffers, class Done>
  void WriteRest(const Buffers& buffers, size_t written, Done&& done) {
    writing_ = true;
    beast::buffers_suffix<Buffers> rest(buffers);
    rest.consume(written);
    net::async_write(stream_, rest, std::forward<Done>(done));
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
    beast::error_code ec;
    size_t written = WriteNow(net::buffer(out_), ec);
    if (ec || written == out_.size()) return Written(ec);
    WriteRest(net::buffer(out_), written, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->Written(ec);
    });
  }

  void Written(beast::error_code ec) {
    writing_ = false;
    std::string().swap(out_);
    if (!ec && !keep_alive_ && linger_) return LingeringClose();
    if (ec || !keep_alive_) return CloseNow();
    ReadHeader();
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

}  // namespace berth::http::internal
