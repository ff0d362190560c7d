// The status manager against a fake HTTP transport that holds each PATCH until the test lets it
// go: several pods' statuses are in flight at once, a pod never has two, and the oldest change
// goes first.

#include "kubelet-like-agent/status/status_manager.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/client/transport.h"
#include "core/json/codec.h"
#include "gtest/gtest.h"
#include "testing/eventually.h"

namespace berth::agent {
namespace {

// Answers each PATCH once released; records what it saw.
class HeldTransport final : public client::Transport {
 public:
  absl::StatusOr<client::HttpResult> Send(const std::string& method, const std::string& path,
                                          const std::string& body, const std::string&) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (method != "PATCH") return client::HttpResult{404, "{}", "application/json"};
    std::string pod = path.substr(path.rfind("/pods/") + 6);
    pod = pod.substr(0, pod.find('/'));
    sent_.push_back(pod);
    bodies_.push_back(body);
    ++in_flight_[pod];
    max_in_flight_same_pod_ = std::max(max_in_flight_same_pod_, in_flight_[pod]);
    int total = 0;
    for (const auto& [p, n] : in_flight_) total += n;
    max_in_flight_ = std::max(max_in_flight_, total);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --in_flight_[pod];
    return client::HttpResult{200, R"({"kind":"Pod","metadata":{"name":")" + pod + R"("}})", "application/json"};
  }
  absl::StatusOr<int> Stream(const std::string&, const std::function<bool(const std::string&)>&,
                             const std::atomic<bool>&) override {
    return 404;
  }
  void CancelStreams() override {}

  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits until `n` PATCHes have arrived.
  bool WaitForSent(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return sent_.size() >= n; });
  }
  std::vector<std::string> Sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  std::vector<std::string> Bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  int MaxInFlight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }
  int MaxInFlightSamePod() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_same_pod_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> sent_, bodies_;
  std::map<std::string, int> in_flight_;
  int max_in_flight_ = 0, max_in_flight_same_pod_ = 0;
  bool open_ = false;
};

json::Value Phase(const std::string& phase) { return *json::Parse(R"({"phase":")" + phase + R"("})"); }

// A status manager with `senders` threads over a HeldTransport.
struct HeldStatusManager {
  explicit HeldStatusManager(int senders)
      : transport(new HeldTransport), api(std::unique_ptr<client::Transport>(transport)), status(api, RealClock::Get(), senders) {
    status.Start();
  }
  // A test that failed midway leaves PATCHes held: let them go, or stopping the senders hangs.
  ~HeldStatusManager() { transport->Open(); }
  HeldTransport* transport;  // owned by api
  client::ApiClient api;
  StatusManager status;
};

TEST(StatusManagerTest, SendsSeveralPodsAtOnceButOnePatchPerPod) {
  HeldStatusManager held(3);
  HeldTransport& transport = *held.transport;
  StatusManager& status = held.status;
  status.Set("default", "a", "uid-a", Phase("Pending"));
  status.Set("default", "b", "uid-b", Phase("Pending"));
  status.Set("default", "c", "uid-c", Phase("Pending"));
  ASSERT_TRUE(transport.WaitForSent(3));
  EXPECT_EQ(transport.MaxInFlight(), 3);  // one sender would have sent one at a time

  // A newer status for a pod whose PATCH is in flight waits for that one to finish: a free
  // sender must not send it beside the held one.
  status.Set("default", "a", "uid-a", Phase("Running"));
  transport.Open();
  ASSERT_TRUE(testing::Eventually([&] { return status.Idle(); }));
  status.Stop();
  EXPECT_EQ(transport.MaxInFlightSamePod(), 1);
  EXPECT_EQ(status.Acknowledged("uid-a").GetString({"phase"}), "Running");
  std::vector<std::string> sent = transport.Sent();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[3], "a");
  EXPECT_NE(transport.Bodies()[3].find("Running"), std::string::npos);
}

TEST(StatusManagerTest, OldestChangeGoesFirst) {
  HeldStatusManager held(1);
  HeldTransport& transport = *held.transport;
  StatusManager& status = held.status;
  status.Set("default", "first", "uid-1", Phase("Pending"));
  ASSERT_TRUE(transport.WaitForSent(1));
  // Queued behind "first" in this order; by uid they would go uid-2, uid-3, uid-9.
  status.Set("default", "z", "uid-9", Phase("Pending"));
  status.Set("default", "x", "uid-2", Phase("Pending"));
  status.Set("default", "y", "uid-3", Phase("Pending"));
  transport.Open();
  ASSERT_TRUE(testing::Eventually([&] { return status.Idle(); }));
  status.Stop();
  EXPECT_EQ(transport.Sent(), (std::vector<std::string>{"first", "z", "x", "y"}));
}

}  // namespace
}  // namespace berth::agent
