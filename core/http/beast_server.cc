// The Boost.Beast adapter: the server (acceptor, network threads, sweeper, graceful stop).
//
// One io_context per network thread (one thread per core by default), each run by its thread
// alone; accepted connections are dealt to them in turn. Each connection's operations run on its
// io_context's one thread, so a session's state needs no lock except what other threads touch
// (the queues of a Stream or a Duplex). A connection moves through three kinds of session: HttpSession (requests
// and chunked streams), DuplexSession (after a WebSocket or raw upgrade) and RelaySession (an
// upgraded connection spliced to another server). A Slot travels with the connection and
// counts it towards ServerOptions::max_connections.
//
// The sessions are in http_session.h, duplex_session.h and relay_session.h, what they share in
// beast_common.h, TLS in tls_contexts.{h,cc}: Beast's templates are instantiated in this one
// translation unit.
#include <utility>  // first: Boost 1.74's Asio needs std::exchange declared under C++20 (libraries.md)

#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "core/http/beast_common.h"
#include "core/http/http_session.h"
#include "core/log/log.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"
#include "core/concurrency/thread_name.h"

namespace berth::http {
namespace {

using namespace internal;  // NOLINT: the adapter's own internals

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(std::unique_ptr<Shared> shared)
      : shared_(std::move(shared)), acceptor_(shared_->iocs.front()->get_executor()) {
    for (auto& ioc : shared_->iocs) work_.push_back(net::make_work_guard(*ioc));
  }

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
    for (auto& ioc : shared_->iocs) threads_.emplace_back([io = ioc.get()] {
      NameThisThread("http-io");
      io->run();
    });
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
    for (auto& guard : work_) guard.reset();
    for (auto& ioc : shared_->iocs) ioc->stop();
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
    Executor executor = shared_->iocs[next_ioc_++ % shared_->iocs.size()]->get_executor();
    acceptor_.async_accept(executor, [this, executor](beast::error_code ec, SessionSocket socket) {
      if (ec) {
        if (!acceptor_.is_open()) return;
        BERTH_LOG(Warning, "http", "Accept failed", "error", ec.message());
      } else {
        OnAccept(std::move(socket), executor);
      }
      if (acceptor_.is_open()) Accept();
    });
  }

  void OnAccept(SessionSocket socket, Executor executor) {
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
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  size_t next_ioc_ = 0;  // the acceptor's thread alone touches it
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
  int threads = shared->options.threads > 0 ? shared->options.threads
                                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // Concurrency hint 1: each is run by one thread, so Asio's scheduler takes no locks.
  for (int i = 0; i < threads; ++i) shared->iocs.push_back(std::make_unique<net::io_context>(1));
  auto server = std::make_unique<ServerImpl>(std::move(shared));
  if (absl::Status s = server->Listen(); !s.ok()) return s;
  return server;
}

}  // namespace berth::http
