// The cpprestsdk adapter: the only file that includes <cpprest/...> on the server side.
// Pitfalls handled here (libraries.md): pool size set before first use; bodies read
// asynchronously with a size limit; stream buffers sync()ed after every write; streams closed
// before the listener on shutdown; bind errors caught.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <mutex>
#include <set>

#include <cpprest/containerstream.h>
#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
#include <pplx/threadpool.h>

#include "core/http/http.h"
#include "core/log/log.h"
#include "absl/strings/numbers.h"
#include "core/strings/strings.h"

namespace berth::http {
namespace {

using web::http::http_request;
using web::http::http_response;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class StreamImpl final : public Stream, public std::enable_shared_from_this<StreamImpl> {
 public:
  concurrency::streams::producer_consumer_buffer<uint8_t>& buffer() { return buf_; }

  bool Write(std::string_view data) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    buf_.putn_nocopy(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    // Without sync() nothing leaves until 4 KiB accumulate (libraries.md §1.2).
    buf_.sync();
    return true;
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
      buf_.close(std::ios_base::out);
    }
    Finished();
  }

  size_t Pending() const override { return buf_.in_avail(); }

  bool Closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  void OnClosed(std::function<void()> callback) override {
    bool run_now = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) {
        run_now = true;
      } else {
        callbacks_.push_back(std::move(callback));
      }
    }
    if (run_now) callback();
  }

  // The network side ended (all sent after Close, or the client went away).
  void Disconnected() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closed_) {
        closed_ = true;
        buf_.close(std::ios_base::out);
      }
    }
    Finished();
  }

 private:
  void Finished() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
      callbacks.swap(callbacks_);
    }
    for (auto& cb : callbacks) cb();
  }

  mutable std::mutex mu_;
  concurrency::streams::producer_consumer_buffer<uint8_t> buf_;
  bool closed_ = false;
  bool finished_ = false;
  std::vector<std::function<void()>> callbacks_;
};

class ServerImpl;

class ResponderImpl final : public Responder {
 public:
  ResponderImpl(http_request req, std::shared_ptr<ServerImpl> server)
      : req_(std::move(req)), server_(std::move(server)) {}

  void Reply(Response response) override {
    http_response resp(static_cast<web::http::status_code>(response.status));
    for (auto& [k, v] : response.headers) resp.headers().add(k, v);
    resp.set_body(std::move(response.body), response.content_type);
    req_.reply(resp).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
        // The client went away before the answer was written: nothing to do.
      }
    });
  }

  std::shared_ptr<Stream> StartStream(
      int status, std::string content_type,
      std::vector<std::pair<std::string, std::string>> headers) override;

 private:
  http_request req_;
  std::shared_ptr<ServerImpl> server_;
};

class ServerImpl final : public Server, public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}

  absl::Status Open(int port) {
    port_ = port;
    std::string uri = StrCat("http://", options_.host, ":", port, "/");
    listener_ = std::make_unique<web::http::experimental::listener::http_listener>(uri);
    std::weak_ptr<ServerImpl> weak = weak_from_this();
    listener_->support([weak](http_request req) {
      if (auto self = weak.lock()) self->Dispatch(std::move(req));
    });
    try {
      listener_->open().wait();
    } catch (const std::exception& e) {
      listener_.reset();
      return absl::UnavailableError(StrCat("cannot listen on ", uri, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  int port() const override { return port_; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    std::vector<std::shared_ptr<StreamImpl>> streams;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& w : streams_) {
        if (auto s = w.lock()) streams.push_back(s);
      }
      streams_.clear();
    }
    for (auto& s : streams) s->Close();
    if (listener_) {
      try {
        listener_->close().wait();
      } catch (const std::exception& e) {
        BERTH_LOG(Warning, "http", "Closing the listener failed", "error", e.what());
      }
    }
  }

  ~ServerImpl() override { Stop(); }

  void Track(const std::shared_ptr<StreamImpl>& s) {
    std::lock_guard<std::mutex> lock(mu_);
    // Forget streams that already ended so the set does not grow with every watch.
    for (auto it = streams_.begin(); it != streams_.end();) {
      it = it->expired() ? streams_.erase(it) : std::next(it);
    }
    streams_.insert(s);
    if (stopped_) s->Close();
  }

 private:
  void Dispatch(http_request req) {
    Request r;
    r.method = req.method();
    const web::uri& uri = req.relative_uri();
    r.path = uri.path();
    if (r.path.empty() || r.path[0] != '/') r.path = "/" + r.path;
    for (std::string_view seg : Split(std::string_view(r.path).substr(1), '/')) {
      if (!seg.empty()) r.segments.push_back(PercentDecode(seg, false));
    }
    r.query = ParseQuery(uri.query());
    for (const auto& [name, value] : req.headers()) r.headers[Lower(name)] = value;

    auto self = shared_from_this();
    size_t declared = req.headers().content_length();
    if (declared > options_.max_body_bytes) {
      // Refuse before buffering: close our side of the body, answer, drop the connection.
      req.body().close().then([](pplx::task<void> t) {
        try { t.get(); } catch (...) {}
      });
      RejectTooLarge(req);
      return;
    }
    bool chunked = Lower(r.Header("transfer-encoding")).find("chunked") != std::string::npos;
    if (declared == 0 && !chunked) {
      handler_(std::move(r), std::make_shared<ResponderImpl>(std::move(req), self));
      return;
    }
    ReadBody(std::move(req), std::make_shared<Request>(std::move(r)));
  }

  void RejectTooLarge(http_request req) {
    Response resp = options_.error_response(
        413, StrCat("the request body is larger than the limit of ", options_.max_body_bytes, " bytes"));
    resp.headers.emplace_back("Connection", "close");
    ResponderImpl(std::move(req), shared_from_this()).Reply(std::move(resp));
  }

  // Reads the body in 64 KiB steps so that an oversized chunked upload is cut off at the limit
  // instead of being buffered whole.
  void ReadBody(http_request req, std::shared_ptr<Request> r) {
    auto buf = std::make_shared<concurrency::streams::container_buffer<std::string>>();
    ReadMore(std::move(req), std::move(r), std::move(buf), 0);
  }

  // The container's string may be larger than what was written (it grows ahead), so the
  // byte count is tracked here.
  void ReadMore(http_request req, std::shared_ptr<Request> r,
                std::shared_ptr<concurrency::streams::container_buffer<std::string>> buf, size_t total) {
    auto self = shared_from_this();
    req.body().read(*buf, 64 * 1024).then([self, req, r, buf, total](pplx::task<size_t> t) mutable {
      size_t n = 0;
      try {
        n = t.get();
      } catch (const std::exception& e) {
        Response resp = self->options_.error_response(400, StrCat("cannot read the request body: ", e.what()));
        ResponderImpl(std::move(req), self).Reply(std::move(resp));
        return;
      }
      total += n;
      if (total > self->options_.max_body_bytes) {
        req.body().close().then([](pplx::task<void> c) {
          try { c.get(); } catch (...) {}
        });
        self->RejectTooLarge(std::move(req));
        return;
      }
      if (n == 0) {
        r->body = std::move(buf->collection());
        r->body.resize(total);
        self->handler_(std::move(*r), std::make_shared<ResponderImpl>(std::move(req), self));
        return;
      }
      self->ReadMore(std::move(req), std::move(r), std::move(buf), total);
    });
  }

  ServerOptions options_;
  Handler handler_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
  std::mutex mu_;
  std::set<std::weak_ptr<StreamImpl>, std::owner_less<std::weak_ptr<StreamImpl>>> streams_;
};

std::shared_ptr<Stream> ResponderImpl::StartStream(
    int status, std::string content_type,
    std::vector<std::pair<std::string, std::string>> headers) {
  auto stream = std::make_shared<StreamImpl>();
  http_response resp(static_cast<web::http::status_code>(status));
  for (auto& [k, v] : headers) resp.headers().add(k, v);
  // No length: cpprest switches to Transfer-Encoding: chunked.
  resp.set_body(stream->buffer().create_istream(), content_type);
  std::weak_ptr<StreamImpl> weak = stream;
  req_.reply(resp).then([weak](pplx::task<void> t) {
    try {
      t.get();
    } catch (...) {
      // A write failed: the client disconnected.
    }
    if (auto s = weak.lock()) s->Disconnected();
  });
  server_->Track(stream);
  return stream;
}

int PickFreePort(const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string Request::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? "" : it->second;
}

std::string Request::Query(std::string_view name) const {
  auto it = query.find(std::string(name));
  return it == query.end() ? "" : it->second;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  if (query.empty()) return out;
  for (std::string_view part : Split(query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string key = PercentDecode(part.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true);
    out[key] = std::move(value);
  }
  return out;
}

absl::Status ParseListenAddress(std::string_view address, ServerOptions& options) {
  size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(address.data() + colon + 1, address.size() - colon - 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(StrCat("listen address must be HOST:PORT, got \"", address, "\""));
  }
  options.host = std::string(address.substr(0, colon));
  options.port = port;
  return absl::OkStatus();
}

void InitializeNetworkThreads(int threads) {
  static std::once_flag once;
  std::call_once(once, [threads] { crossplat::threadpool::initialize_with_threads(threads); });
}

absl::StatusOr<std::unique_ptr<Server>> StartServer(ServerOptions options, Handler handler) {
  if (!options.error_response) {
    options.error_response = [](int status, std::string message) {
      Response r;
      r.status = status;
      r.content_type = "text/plain";
      r.body = std::move(message);
      return r;
    };
  }
  absl::Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    int port = options.port;
    if (port == 0) port = PickFreePort(options.host);
    if (port <= 0) return absl::UnavailableError("cannot find a free port");
    auto server = std::make_shared<ServerImpl>(options, handler);
    last = server->Open(port);
    if (last.ok()) {
      // Hand out a unique_ptr whose deleter keeps the shared ownership model intact.
      struct Holder final : Server {
        std::shared_ptr<ServerImpl> impl;
        int port() const override { return impl->port(); }
        void Stop() override { impl->Stop(); }
        ~Holder() override { impl->Stop(); }
      };
      auto holder = std::make_unique<Holder>();
      holder->impl = std::move(server);
      return holder;
    }
    if (options.port != 0) break;  // a fixed port that is busy will stay busy
  }
  return last;
}

}  // namespace berth::http
