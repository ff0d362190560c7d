#include "apiserver/server/apiserver.h"

#include "apiserver/http/http.h"
#include "apiserver/registry/registry.h"
#include "apiserver/schema/validator.h"
#include "apiserver/server/api_handler.h"
#include "apiserver/server/metrics.h"
#include "apiserver/storage/memory/memory_store.h"
#include "apiserver/storage/rocksdb/rocksdb_store.h"
#include "apiserver/watch/watch_cache.h"
#include "core/concurrency/thread_pool.h"
#include "core/log/log.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth {
std::map<std::string, std::string> EmbeddedSchemas();
}  // namespace berth

namespace berth::apiserver {

// Members are destroyed in reverse order: the HTTP server goes before the pool, the pool before
// the registry, the registry before the store.
struct ApiServer::Parts {
  ApiServerOptions options;
  std::unique_ptr<storage::Store> store;
  std::shared_ptr<const schema::SchemaSet> schemas;
  registry::Catalog catalog;
  std::unique_ptr<registry::Registry> registry;
  std::unique_ptr<watch::WatchCache> watch_cache;
  std::unique_ptr<server::Metrics> metrics;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<server::ApiHandler> handler;
  std::unique_ptr<http::Server> http;
  bool stopped = false;
};

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(ApiServerOptions options,
                                                           const Clock& clock) {
  http::InitializeNetworkThreads(options.network_threads);
  auto p = std::make_unique<Parts>();
  p->options = options;
  p->metrics = std::make_unique<server::Metrics>();
  if (options.data_dir.empty()) {
    p->store = std::make_unique<storage::MemoryStore>(clock, options.retention);
  } else {
    storage::RocksDbOptions ro;
    ro.retention = options.retention;
    ro.compaction_interval = options.compaction_interval;
    BERTH_ASSIGN_OR_RETURN(auto rocks, storage::RocksDbStore::Open(options.data_dir, clock, ro));
    server::Metrics* commit_metrics = p->metrics.get();
    rocks->SetCommitObserver([commit_metrics](size_t batch, double seconds) {
      commit_metrics->ObserveCommit(batch, seconds);
    });
    p->store = std::move(rocks);
  }
  BERTH_ASSIGN_OR_RETURN(p->schemas, schema::SchemaSet::Load(EmbeddedSchemas()));
  p->catalog = registry::Catalog::Builtin();
  p->registry = std::make_unique<registry::Registry>(*p->store, p->catalog, p->schemas, clock);
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    BERTH_RETURN_IF_ERROR(p->registry->EnsureNamespace(ns));
  }
  watch::WatchCacheOptions wo;
  wo.window_events = options.watch_window_events;
  wo.bookmark_interval = options.bookmark_interval;
  p->watch_cache = std::make_unique<watch::WatchCache>(*p->store, clock, wo);
  watch::WatchCache* cache = p->watch_cache.get();
  server::Metrics* metrics = p->metrics.get();
  cache->SetDeliveryObserver([metrics](double seconds) { metrics->ObserveWatchDelivery(seconds); });
  storage::Store* store = p->store.get();
  p->metrics->SetGaugeFunction("apiserver_registered_watchers", "Open watch streams.",
                               [cache] { return static_cast<double>(cache->watcher_count()); });
  p->metrics->SetGaugeFunction("berth_storage_revision", "The store's current revision.",
                               [store] { return static_cast<double>(store->CurrentRevision()); });
  p->pool = std::make_unique<ThreadPool>(options.work_threads);
  p->handler = std::make_unique<server::ApiHandler>(*p->registry, *p->watch_cache, p->schemas,
                                                    *p->metrics, *p->pool, clock);
  // Authentication and authorization filters: everyone is anonymous and allowed until TLS and
  // tokens land; the slots exist so that adding them changes no handler.
  p->handler->AddFilter([](server::RequestContext& ctx) {
    ctx.user = "system:anonymous";
    ctx.groups = {"system:unauthenticated"};
    return absl::OkStatus();
  });
  p->handler->AddFilter([](server::RequestContext&) { return absl::OkStatus(); });

  http::ServerOptions so;
  so.host = options.host;
  so.port = options.port;
  so.error_response = [](int status, std::string message) {
    absl::Status s = status == 413 ? api::RequestEntityTooLarge(message) : api::BadRequest(message);
    return server::ApiHandler::ErrorResponse(s);
  };
  server::ApiHandler* handler = p->handler.get();
  BERTH_ASSIGN_OR_RETURN(p->http, http::StartServer(so, [handler](http::Request r, std::shared_ptr<http::Responder> resp) {
                           handler->Handle(std::move(r), std::move(resp));
                         }));
  p->handler->SetServerAddress(StrCat(options.host, ":", p->http->port()));
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(p)));
}

ApiServer::ApiServer(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Stop() {
  if (parts_ == nullptr || parts_->stopped) return;
  parts_->stopped = true;
  // Watch streams end first: cpprest's listener waits for every open response (libraries.md §1.6).
  parts_->watch_cache->Shutdown();
  parts_->http->Stop();
  parts_->pool.reset();
  parts_->http.reset();
  parts_->handler.reset();
  parts_->watch_cache.reset();
  parts_->registry.reset();
  parts_->store.reset();
}

int ApiServer::port() const { return parts_->http ? parts_->http->port() : 0; }

std::string ApiServer::address() const { return StrCat(parts_->options.host, ":", port()); }

}  // namespace berth::apiserver
