#pragma once
// File: controllers/runtime/status_server.h
// The controller-manager's own small HTTP endpoint, as kube-controller-manager serves one:
// /healthz and /readyz (ok once the process runs; /readyz says whether this replica leads) and
// /metrics (every registered controller's queue depth, reconciles, errors and latency).

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/http/http.h"
#include "controllers/runtime/controller.h"

namespace berth::controllers {

class StatusServer {
 public:
  // `listen` is HOST:PORT; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<StatusServer>> Start(const std::string& listen);
  ~StatusServer();

  std::string address() const;
  void AddControllers(const std::vector<Controller*>& controllers);
  void SetLeading(bool leading) { leading_ = leading; }
  // GET /debug/<name>/<rest>: `handler(rest)` answers with a status code and a JSON body.
  using DebugHandler = std::function<std::pair<int, std::string>(const std::string& rest)>;
  void AddDebugHandler(const std::string& name, DebugHandler handler);
  // More /metrics text (e.g. the scheduler's own families), appended on each scrape.
  void AddMetrics(std::function<void(std::string&)> render);

 private:
  StatusServer() = default;
  void Handle(const http::Request& request, http::Responder& responder);

  std::unique_ptr<http::Server> server_;
  std::string host_;
  mutable std::mutex mu_;
  std::vector<const Controller*> controllers_;
  std::map<std::string, DebugHandler> debug_;
  std::vector<std::function<void(std::string&)>> metrics_;
  std::atomic<bool> leading_{false};
};

}  // namespace berth::controllers
