#pragma once
// File: apiserver/server/api_handler.h
// Turns HTTP requests into registry calls and Kubernetes-shaped answers. Requests pass a
// filter chain (decode -> authentication -> authorization -> admission in the registry), so
// TLS identities and RBAC slot in as filters later.
//
// Writes, lists and watch set-up run on `work_pool` (they may wait for a durable commit or read
// storage); reads of one object answer on the network thread.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/http/http.h"
#include "apiserver/registry/registry.h"
#include "apiserver/schema/validator.h"
#include "apiserver/server/metrics.h"
#include "apiserver/server/table/table.h"
#include "apiserver/server/request_info.h"
#include "apiserver/watch/watch_cache.h"
#include "core/concurrency/thread_pool.h"
#include "core/time/clock.h"

namespace berth::apiserver::server {

struct RequestContext {
  http::Request request;
  RequestInfo info;
  std::string user = "system:anonymous";
  std::vector<std::string> groups;
  std::string verb;  // Kubernetes verb: get, list, watch, create, update, patch, delete
  std::chrono::steady_clock::time_point start;
};

using Filter = std::function<absl::Status(RequestContext&)>;

class ApiHandler {
 public:
  ApiHandler(registry::Registry& registry, watch::WatchCache& watch_cache,
             std::shared_ptr<const schema::SchemaSet> schemas, Metrics& metrics,
             ThreadPool& work_pool, const Clock& clock);

  void SetServerAddress(std::string address) { server_address_ = std::move(address); }
  void AddFilter(Filter filter) { filters_.push_back(std::move(filter)); }
  void Handle(http::Request request, std::shared_ptr<http::Responder> responder);

  // The body a failed request gets (Status object), also used for 413 and unreadable bodies.
  static http::Response ErrorResponse(const absl::Status& status);

 private:
  class Exchange;
  void HandleNonResource(const std::shared_ptr<Exchange>& ex);
  void HandleResource(const std::shared_ptr<Exchange>& ex);
  void ServeList(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type);
  // pods/{name}/log: proxied to the agent of the pod's node (pod_logs.h). Holds a work thread
  // while following.
  void ServeLog(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type);
  void ReplyTable(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type,
                  const std::vector<json::Value>& objects, const std::string& resource_version,
                  const std::string& continue_token, const table::TableOptions& options);
  void ServeWatch(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type);
  void ServeWrite(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type);
  void ServeCreate(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type);
  void ServeDelete(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type);
  void ServeScale(const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type);

  registry::Registry& registry_;
  watch::WatchCache& watch_cache_;
  std::shared_ptr<const schema::SchemaSet> schemas_;
  Metrics& metrics_;
  ThreadPool& pool_;
  const Clock& clock_;
  std::string server_address_;
  std::vector<Filter> filters_;
};

}  // namespace berth::apiserver::server
