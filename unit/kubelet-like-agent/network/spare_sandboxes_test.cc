// File: unit/kubelet-like-agent/network/spare_sandboxes_test.cc
// PodNetwork's spare sandboxes against FakeNetworkDriver: made once the bridge exists, taken by
// new pods (namespace moved, link renamed), refilled, skipped for pods set up before, replaced
// by wiring from scratch when a claim fails, and removed with the agent and after a crash.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "kubelet-like-agent/network/fake_network_driver.h"
#include "kubelet-like-agent/network/pod_network.h"

namespace berth::agent::network {
namespace {
namespace fs = std::filesystem;

class SpareSandboxesTest : public ::testing::Test {
 protected:
  SpareSandboxesTest() {
    char tmpl[] = "/tmp/berth-spares-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    options_.netns_dir = dir_ + "/netns";
    options_.ipam_dir = dir_ + "/ipam";
    options_.spares = 2;
  }
  ~SpareSandboxesTest() override { fs::remove_all(dir_); }

  // Waits, with a deadline, for the refill thread.
  static bool Eventually(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  size_t SpareLinks() {
    std::lock_guard<std::mutex> lock(driver_.mu_);
    size_t n = 0;
    for (const auto& [name, link] : driver_.links) n += name.rfind("bsp", 0) == 0;
    return n;
  }
  size_t Netns() {
    std::lock_guard<std::mutex> lock(driver_.mu_);
    return driver_.netns.size();
  }

  std::string dir_;
  PodNetworkOptions options_;
  FakeNetworkDriver driver_;
};

TEST_F(SpareSandboxesTest, NewPodsTakeReadySparesWhichAreRefilled) {
  PodNetwork network(driver_, options_);
  EXPECT_EQ(network.SparesReady(), 0u);  // no bridge before the podCIDR
  ASSERT_TRUE(network.SetPodCidr(*net::ParseIpv4Prefix("10.244.3.0/24")).ok());
  ASSERT_TRUE(Eventually([&] { return network.SparesReady() == 2; }));
  EXPECT_EQ(SpareLinks(), 2u);

  const std::string uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
  auto sandbox = network.SetUp(uid, false);
  ASSERT_TRUE(sandbox.ok()) << sandbox.status();
  EXPECT_EQ(network.spares_taken(), 1u);
  EXPECT_EQ(driver_.claims, 1);
  EXPECT_EQ(sandbox->netns_path, options_.netns_dir + "/" + uid);
  EXPECT_TRUE(fs::exists(sandbox->netns_path));
  {
    std::lock_guard<std::mutex> lock(driver_.mu_);
    const PodLink& link = driver_.links.at(PodNetwork::HostInterface(uid));
    EXPECT_EQ(link.netns_path, sandbox->netns_path);
    EXPECT_EQ(net::FormatIpv4(link.address), sandbox->ip);
    EXPECT_EQ(link.gateway, *net::ParseIpv4("10.244.3.1"));
  }
  ASSERT_TRUE(Eventually([&] { return network.SparesReady() == 2; }));  // refilled
  EXPECT_EQ(SpareLinks(), 2u);

  // Asked again (an agent restart finds its pods): found as it is, no spare taken.
  auto again = network.SetUp(uid, false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ip, sandbox->ip);
  EXPECT_EQ(network.spares_taken(), 1u);
  // An isolated pod (loopback only) takes none either.
  ASSERT_TRUE(network.SetUp("isolated-pod", true).ok());
  EXPECT_EQ(network.spares_taken(), 1u);
  ASSERT_TRUE(network.TearDown(uid).ok());
}

TEST_F(SpareSandboxesTest, AFailedClaimIsWiredFromScratch) {
  PodNetwork network(driver_, options_);
  ASSERT_TRUE(network.SetPodCidr(*net::ParseIpv4Prefix("10.244.3.0/24")).ok());
  ASSERT_TRUE(Eventually([&] { return network.SparesReady() == 2; }));
  driver_.fail_next_claim = true;
  auto sandbox = network.SetUp("pod-a", false);
  ASSERT_TRUE(sandbox.ok()) << sandbox.status();
  std::lock_guard<std::mutex> lock(driver_.mu_);
  EXPECT_EQ(driver_.links.at(PodNetwork::HostInterface("pod-a")).netns_path, options_.netns_dir + "/pod-a");
}

TEST_F(SpareSandboxesTest, APodWithoutAnAddressLeavesNoSpareLinkInItsNamespace) {
  PodNetwork network(driver_, options_);
  ASSERT_TRUE(network.SetPodCidr(*net::ParseIpv4Prefix("10.244.3.0/30")).ok());  // one pod address
  ASSERT_TRUE(Eventually([&] { return network.SparesReady() == 2; }));
  ASSERT_TRUE(network.SetUp("pod-a", false).ok());
  ASSERT_TRUE(Eventually([&] { return network.SparesReady() == 2; }));
  EXPECT_EQ(network.SetUp("pod-b", false).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(network.spares_taken(), 2u);
  std::lock_guard<std::mutex> lock(driver_.mu_);
  for (const auto& [name, link] : driver_.links) EXPECT_NE(link.netns_path, options_.netns_dir + "/pod-b") << name;
}

TEST_F(SpareSandboxesTest, SparesGoWithTheNetworkAndAfterACrash) {
  {
    PodNetwork network(driver_, options_);
    ASSERT_TRUE(network.SetPodCidr(*net::ParseIpv4Prefix("10.244.3.0/24")).ok());
    ASSERT_TRUE(Eventually([&] { return network.SparesReady() == 2; }));
    ASSERT_TRUE(network.SetUp("pod-a", false).ok());
    ASSERT_TRUE(Eventually([&] { return network.SparesReady() == 2; }));
  }
  EXPECT_EQ(SpareLinks(), 0u);
  EXPECT_EQ(Netns(), 1u);  // the pod's: pods outlive the agent, spares do not
  EXPECT_TRUE(fs::is_empty(options_.netns_dir + "-spares"));

  // A crash leaves spares pinned; the next run removes them before making its own.
  std::string stale = options_.netns_dir + "-spares/bspdead00001";
  ASSERT_TRUE(driver_.CreateNetns(stale).ok());
  ASSERT_TRUE(driver_.AddSpareLink(stale, "bspdead00001", "berth0").ok());
  // And one taken by a pod that crashed mid-claim: its pin moved, its link not yet renamed.
  std::string moved = options_.netns_dir + "/pod-c";
  ASSERT_TRUE(driver_.CreateNetns(moved).ok());
  ASSERT_TRUE(driver_.AddSpareLink(moved, "bspdead00002", "berth0").ok());
  options_.spares = 0;  // even with the pool turned off
  PodNetwork next(driver_, options_);
  EXPECT_EQ(SpareLinks(), 0u);
  EXPECT_FALSE(fs::exists(stale));
  ASSERT_TRUE(next.SetPodCidr(*net::ParseIpv4Prefix("10.244.3.0/24")).ok());
  ASSERT_TRUE(next.SetUp("pod-b", false).ok());
  EXPECT_EQ(next.spares_taken(), 0u);
  auto crashed = next.SetUp("pod-c", false);  // found again, wired afresh
  ASSERT_TRUE(crashed.ok()) << crashed.status();
  std::lock_guard<std::mutex> lock(driver_.mu_);
  EXPECT_EQ(driver_.links.at(PodNetwork::HostInterface("pod-c")).netns_path, moved);
}

}  // namespace
}  // namespace berth::agent::network
