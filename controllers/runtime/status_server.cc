#include "controllers/runtime/status_server.h"

#include "core/strings/strings.h"

namespace berth::controllers {

absl::StatusOr<std::unique_ptr<StatusServer>> StatusServer::Start(const std::string& listen) {
  http::ServerOptions options;
  if (absl::Status s = http::ParseListenAddress(listen, options); !s.ok()) return s;
  std::unique_ptr<StatusServer> self(new StatusServer());
  self->host_ = options.host;
  StatusServer* raw = self.get();
  auto server = http::StartServer(
      options, [raw](http::Request request, std::shared_ptr<http::Responder> responder) {
        raw->Handle(request, *responder);
      });
  if (!server.ok()) return server.status();
  self->server_ = std::move(*server);
  return self;
}

StatusServer::~StatusServer() {
  if (server_) server_->Stop();
}

std::string StatusServer::address() const { return StrCat(host_, ":", server_->port()); }

void StatusServer::AddControllers(const std::vector<Controller*>& controllers) {
  std::lock_guard<std::mutex> lock(mu_);
  controllers_.insert(controllers_.end(), controllers.begin(), controllers.end());
}

void StatusServer::AddDebugHandler(const std::string& name, DebugHandler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  debug_[name] = std::move(handler);
}

void StatusServer::AddMetrics(std::function<void(std::string&)> render) {
  std::lock_guard<std::mutex> lock(mu_);
  metrics_.push_back(std::move(render));
}

void StatusServer::Handle(const http::Request& request, http::Responder& responder) {
  http::Response response;
  response.content_type = "text/plain; charset=utf-8";
  if (request.method != "GET") {
    response.status = 405;
    response.body = "only GET is served here\n";
  } else if (request.path == "/healthz" || request.path == "/livez") {
    response.body = "ok";
  } else if (request.path == "/readyz") {
    // A standby is healthy but not the one acting: say so, as a leader-election readiness check does.
    response.status = leading_ ? 200 : 503;
    response.body = leading_ ? "ok" : "not leading";
  } else if (request.path == "/metrics") {
    response.content_type = "text/plain; version=0.0.4";
    std::lock_guard<std::mutex> lock(mu_);
    response.body = Controller::RenderMetrics(controllers_);
    for (const auto& render : metrics_) render(response.body);
    StrAppend(&response.body, "# HELP berth_leader_is_leading 1 while this replica holds the lease.\n",
              "# TYPE berth_leader_is_leading gauge\nberth_leader_is_leading ", leading_ ? 1 : 0, "\n");
  } else if (request.path.rfind("/debug/", 0) == 0) {
    std::string rest = request.path.substr(7);
    std::string name = rest.substr(0, rest.find('/'));
    DebugHandler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = debug_.find(name); it != debug_.end()) handler = it->second;
    }
    if (handler) {
      auto [code, body] = handler(rest.size() > name.size() ? rest.substr(name.size() + 1) : "");
      response.status = code;
      response.content_type = "application/json";
      response.body = std::move(body);
    } else {
      response.status = 404;
      response.body = StrCat("no such debug page: ", name, "\n");
    }
  } else {
    response.status = 404;
    response.body = StrCat("no such path: ", request.path, " (served: /healthz /readyz /metrics /debug/...)\n");
  }
  responder.Reply(std::move(response));
}

}  // namespace berth::controllers
