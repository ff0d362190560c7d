// The cpprestsdk HTTP client adapter. Exceptions from cpprest stop here.

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <vector>

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include <pplx/threadpool.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/client/connection.h"
#include "core/client/cpprest_sink_streambuf.h"
#include "core/client/http_fetch.h"
#include "core/client/system_trust.h"
#include "core/client/transport.h"
#include "core/strings/strings.h"

namespace berth::client {
namespace {

// Trust exactly the PEM certificates in `ca_pem`: the store replaces the system roots.
void TrustOnly(SSL_CTX* ctx, const std::string& ca_pem) {
  X509_STORE* store = X509_STORE_new();
  BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  BIO_free(bio);
  SSL_CTX_set_cert_store(ctx, store);
}

// The whole of `path`; empty when it cannot be read.
std::string Slurp(const std::string& path) {
  std::string out;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[8192];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

web::http::client::http_client_config ClientConfig(const Connection& connection) {
  web::http::client::http_client_config cfg;
  // An inactivity timeout: watches get bookmarks more often than this.
  cfg.set_timeout(std::chrono::seconds(60));
  cfg.set_validate_certificates(!connection.insecure_skip_tls_verify);
  cfg.set_ssl_context_callback([connection](boost::asio::ssl::context& ssl) {
    SSL_CTX* ctx = ssl.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (!connection.ca_pem.empty()) TrustOnly(ctx, connection.ca_pem);
    else if (!connection.insecure_skip_tls_verify) AddSystemTrust(ctx);
    std::string cert = connection.client_cert_pem, key = connection.client_key_pem;
    if (!connection.client_cert_file.empty() && !connection.client_key_file.empty()) {
      // Called for each new connection: a rotated certificate is picked up here.
      std::string fresh_cert = Slurp(connection.client_cert_file), fresh_key = Slurp(connection.client_key_file);
      if (!fresh_cert.empty() && !fresh_key.empty()) {
        cert = std::move(fresh_cert);
        key = std::move(fresh_key);
      }
    }
    if (!cert.empty()) {
      boost::system::error_code ec;
      ssl.use_certificate_chain(boost::asio::buffer(cert), ec);
      if (!ec) ssl.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem, ec);
      // A bad certificate shows as the server's 401, which names no file; say it here too.
      if (ec) std::fprintf(stderr, "client certificate: %s\n", ec.message().c_str());
    }
  });
  return cfg;
}

// How much of a watch stream is taken from cpprestsdk's buffer at a time.
constexpr size_t kStreamBlock = 64 << 10;

class CpprestTransport final : public Transport {
 public:
  explicit CpprestTransport(const Connection& connection)
      : base_(connection.server),
        authorization_(connection.bearer_token.empty() ? "" : StrCat("Bearer ", connection.bearer_token)) {
    client_ = std::make_unique<web::http::client::http_client>(connection.server, ClientConfig(connection));
  }

  absl::StatusOr<HttpResult> Send(const std::string& method, const std::string& path_and_query,
                                  const std::string& body, const std::string& content_type) override {
    try {
      web::http::http_request req(method);
      req.set_request_uri(path_and_query);
      req.headers().add("Accept", "application/json");
      if (!authorization_.empty()) req.headers().add("Authorization", authorization_);
      if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        req.set_body(body, content_type.empty() ? "application/json" : content_type);
      }
      web::http::http_response resp = client_->request(req).get();
      HttpResult out;
      out.status = resp.status_code();
      out.content_type = resp.headers().content_type();
      out.body = resp.extract_utf8string(true).get();
      return out;
    } catch (const std::exception& e) {
      return absl::UnavailableError(StrCat(method, " ", base_, path_and_query, ": ", e.what()));
    }
  }

  void CancelStreams() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (ActiveStream* a : active_) {
      if (a->cancel->load()) a->cts.cancel();
    }
  }

  absl::StatusOr<int> Stream(const std::string& path_and_query,
                             const std::function<bool(const std::string&)>& on_line,
                             const std::atomic<bool>& cancel) override {
    try {
      pplx::cancellation_token_source cts;
      ActiveStream active{&cancel, cts};
      Register(&active);
      struct Unregister {
        CpprestTransport* t;
        ActiveStream* a;
        ~Unregister() { t->Forget(a); }
      } unregister{this, &active};
      web::http::http_request req(web::http::methods::GET);
      req.set_request_uri(path_and_query);
      req.headers().add("Accept", "application/json");
      if (!authorization_.empty()) req.headers().add("Authorization", authorization_);
      web::http::http_response resp = client_->request(req, cts.get_token()).get();
      int status = resp.status_code();
      if (status != 200) {
        (void)resp.extract_utf8string(true).get();
        return status;
      }
      // Read what has arrived in blocks and split the lines here: cpprestsdk's read_line takes
      // one character per call through its task machinery, which made decoding a busy watch
      // (thousands of events a second) the informer's bottleneck.
      auto body = resp.body().streambuf();
      std::vector<uint8_t> block(kStreamBlock);
      std::string pending;
      size_t scanned = 0;  // no newline before this offset of `pending`
      while (!cancel.load()) {
        // getn waits for all it asks for: wait for one byte, then take what else is there.
        auto first = body.bumpc().get();
        if (first == decltype(body)::traits::eof()) break;  // the end of the stream
        pending.push_back(static_cast<char>(first));
        if (size_t avail = std::min(body.in_avail(), block.size()); avail > 0) {
          size_t n = body.getn(block.data(), avail).get();
          pending.append(reinterpret_cast<const char*>(block.data()), n);
        }
        size_t start = 0;
        bool stop = false;
        for (size_t nl; !stop && (nl = pending.find('\n', scanned)) != std::string::npos; start = scanned = nl + 1) {
          size_t end = nl > start && pending[nl - 1] == '\r' ? nl - 1 : nl;
          if (end > start) stop = !on_line(pending.substr(start, end - start));
        }
        if (stop) break;
        pending.erase(0, start);
        scanned = pending.size();
      }
      cts.cancel();
      return status;
    } catch (const std::exception& e) {
      if (cancel.load()) return 200;  // we aborted it
      return absl::UnavailableError(StrCat("watch ", base_, path_and_query, ": ", e.what()));
    }
  }

 private:
  struct ActiveStream {
    const std::atomic<bool>* cancel;
    pplx::cancellation_token_source cts;
  };
  void Register(ActiveStream* a) {
    std::lock_guard<std::mutex> lock(mu_);
    active_.push_back(a);
  }
  void Forget(ActiveStream* a) {
    std::lock_guard<std::mutex> lock(mu_);
    active_.erase(std::remove(active_.begin(), active_.end(), a), active_.end());
  }

  std::mutex mu_;
  std::vector<ActiveStream*> active_;
  std::string base_;
  std::string authorization_;
  std::unique_ptr<web::http::client::http_client> client_;
};

}  // namespace

std::unique_ptr<Transport> NewCpprestTransport(const std::string& base_url) {
  return std::make_unique<CpprestTransport>(Connection{.server = base_url});
}

std::unique_ptr<Transport> NewCpprestTransport(const Connection& connection) {
  return std::make_unique<CpprestTransport>(connection);
}

void InitializeClientThreads(int threads) {
  static std::once_flag once;
  std::call_once(once, [threads] { crossplat::threadpool::initialize_with_threads(threads); });
}

}  // namespace berth::client

// ---- HttpFetcher: GETs of absolute URLs (image registries) ----

namespace berth::client {
namespace {

std::string Origin(const std::string& url) {
  size_t scheme = url.find("://");
  size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

constexpr size_t kFetchChunkBytes = 1 << 20;

// A response's head, handed from the thread that asked to the thread that reads the body.
class HeadLatch {
 public:
  void Publish(const FetchResponse& head) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      head_ = head;
      ready_ = true;
    }
    cv_.notify_all();
  }
  const FetchResponse& Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return ready_; });
    return head_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  FetchResponse head_;
};

class CpprestFetcher final : public HttpFetcher {
 public:
  absl::StatusOr<FetchResponse> Get(const FetchRequest& request, const BodySink& on_body) override {
    try {
      std::string origin = Origin(request.url);
      web::http::client::http_client_config config;
      config.set_timeout(std::chrono::milliseconds(absl::ToInt64Milliseconds(request.timeout)));
      config.set_validate_certificates(!request.skip_verify);
      // Blobs are tens of megabytes: each chunk cpprestsdk reads is a round of task
      // continuations between its threads (16k futex calls in a 51 MB pull at the 64 KiB
      // default), so read them in bigger pieces.
      config.set_chunksize(kFetchChunkBytes);
      if (!request.skip_verify) {
        std::string ca = request.ca_file;
        config.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) {
          AddSystemTrust(ctx.native_handle());
          if (!ca.empty()) ctx.load_verify_file(ca);
        });
      }
      web::http::client::http_client client(origin, config);
      web::http::http_request req(web::http::methods::GET);
      std::string rest = request.url.substr(origin.size());
      req.set_request_uri(rest.empty() ? "/" : rest);
      for (const auto& [name, value] : request.headers) req.headers().add(name, value);
      // The body goes straight from cpprestsdk's reading thread to on_body (cpprest_sink_streambuf.h).
      // The head is complete before the first piece of body arrives, but this thread may take
      // it over later than that thread starts writing: the sink waits for it.
      auto head = std::make_shared<HeadLatch>();
      auto sink = std::make_shared<internal::SinkStreambuf>([head, &on_body](std::string_view chunk) {
        return on_body(head->Wait(), chunk);
      });
      req.set_response_stream(Concurrency::streams::ostream(Concurrency::streams::streambuf<uint8_t>(sink)));
      web::http::http_response resp = client.request(req).get();
      FetchResponse out;
      out.status = resp.status_code();
      try {
        for (const auto& [name, value] : resp.headers()) out.headers.emplace_back(name, value);
      } catch (...) {
        head->Publish(out);
        resp.content_ready().wait();
        throw;
      }
      head->Publish(out);
      try {
        resp.content_ready().wait();
      } catch (const std::exception&) {
        if (!sink->stopped()) throw;  // on_body's own stop is no failure of the transfer
      }
      return out;
    } catch (const std::exception& e) {
      return absl::UnavailableError(StrCat("GET ", request.url, ": ", e.what()));
    }
  }
};

}  // namespace

std::string FetchResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (SameName(n, name)) return v;
  }
  return "";
}

std::unique_ptr<HttpFetcher> NewCpprestFetcher() { return std::make_unique<CpprestFetcher>(); }

}  // namespace berth::client
