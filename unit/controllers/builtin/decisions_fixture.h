#pragma once
// File: unit/controllers/builtin/decisions_fixture.h
// Built-in controllers' decisions, one reconcile at a time: a real in-process apiserver
// (memory store, port 0) for the API, a fake clock for time, and the controller driven by
// ProcessOneForTest so that each step is observed — no worker threads, no sleeps.

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/server/apiserver.h"
#include "controllers/runtime/controller.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"
#include "core/json/codec.h"
#include "gtest/gtest.h"
#include "testing/eventually.h"
#include "testing/fake_clock.h"
#include "testing/test_apiserver.h"

namespace berth::controllers::builtin {

namespace res = client::resources;

inline json::Value J(const std::string& text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : json::Value();
}

class DecisionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = testing::StartTestApiServer();  // no data dir: the memory store
    ASSERT_TRUE(t.ok()) << t.status();
    server_ = std::move(t->server);
    api_ = std::move(t->api);
  }
  void TearDown() override {
    // The informers live in the test body and stopped in their destructors already.
    // The server first: closing the listener while the client's pooled connections are being torn
    // down raced inside cpprestsdk (a rare SEGFAULT in asio's epoll reactor at teardown).
    server_.reset();
    api_.reset();
  }
  void Start(std::initializer_list<Informer*> informers) {
    for (Informer* i : informers) {
      i->Start();
      ASSERT_TRUE(i->WaitForSync(absl::Seconds(10)));
    }
  }
  // Informer events arrive on their own thread: wait (with a deadline) until the cache agrees.
  static bool Eventually(const std::function<bool()>& pred) { return testing::Eventually(pred); }
  static int Drain(Controller& c) {
    int n = 0;
    while (c.ProcessOneForTest()) ++n;
    return n;
  }
  std::vector<json::Value> LivePods() {
    auto list = api_->List(res::kPods, "default");
    EXPECT_TRUE(list.ok()) << list.status();
    std::vector<json::Value> out;
    for (json::Value& p : list->items) {
      if (!p.Get({"metadata", "deletionTimestamp"})) out.push_back(std::move(p));
    }
    return out;
  }

  testing::FakeClock clock_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<client::ApiClient> api_;
};

// Declared after the controller it feeds, so it is destroyed first: informer threads must stop
// before the handlers they call (the controller's) are gone.
struct StopInformersFirst {
  std::vector<Informer*> informers;
  ~StopInformersFirst() {
    for (Informer* i : informers) i->Stop();
  }
};

}  // namespace berth::controllers::builtin
