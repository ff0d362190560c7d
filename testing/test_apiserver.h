#pragma once
// File: testing/test_apiserver.h
// The envtest pattern (style.md): a real apiserver in the test process, memory store, port 0,
// and a client connected to it. Tests of controllers and of the agent's sync loop use it
// instead of a fake client.

#include <memory>

#include "absl/status/statusor.h"
#include "apiserver/server/apiserver.h"
#include "core/client/api_client.h"

namespace berth::testing {

struct TestApiServer {
  std::unique_ptr<apiserver::ApiServer> server;
  std::unique_ptr<client::ApiClient> api;
};

// `options` may set a data dir (RocksDB) or retention; the port is always picked free.
inline absl::StatusOr<TestApiServer> StartTestApiServer(apiserver::ApiServerOptions options = {}) {
  options.port = 0;
  if (options.work_threads > 8) options.work_threads = 8;
  auto server = apiserver::ApiServer::Start(options);
  if (!server.ok()) return server.status();
  TestApiServer t;
  t.server = *std::move(server);
  t.api = client::ApiClient::Connect("http://" + t.server->address());
  return t;
}

}  // namespace berth::testing
