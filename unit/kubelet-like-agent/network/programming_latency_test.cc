// kube-proxy's network programming latency: each EndpointSlice change measured once, from its
// trigger time to the sync that put it in place; nothing from before the agent started.

#include "kubelet-like-agent/network/programming_latency.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"
#include "core/time/clock.h"

namespace berth::agent::network {
namespace {

json::Value Slice(const std::string& name, absl::Time trigger) {
  json::Value s = json::Value::MakeObject();
  s.Ensure({"metadata"}).Set("name", name);
  s.Ensure({"metadata"}).Set("namespace", "default");
  s.Ensure({"metadata", "annotations"}).Set("endpoints.kubernetes.io/last-change-trigger-time", FormatRfc3339Nano(trigger));
  return s;
}

std::string Rendered(const ProgrammingLatency& latency) {
  std::string out;
  latency.Render(out);
  return out;
}

TEST(ProgrammingLatencyTest, EachChangeIsMeasuredOnceFromItsTriggerTime) {
  const absl::Time started = absl::FromUnixSeconds(1800000000);
  ProgrammingLatency latency(started);
  json::Value old = Slice("old", started - absl::Seconds(30));  // changed before the agent started
  json::Value web = Slice("web", started + absl::Seconds(5));
  latency.Applied({&old, &web}, started + absl::Seconds(5) + absl::Milliseconds(20));
  std::string out = Rendered(latency);
  EXPECT_NE(out.find("# TYPE kubeproxy_network_programming_duration_seconds histogram"), std::string::npos) << out;
  EXPECT_NE(out.find("kubeproxy_network_programming_duration_seconds_count 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("kubeproxy_network_programming_duration_seconds_bucket{le=\"0.01\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("kubeproxy_network_programming_duration_seconds_bucket{le=\"0.025\"} 1\n"), std::string::npos) << out;
  // The same change seen by a later sync is not measured again; a new one is.
  latency.Applied({&old, &web}, started + absl::Seconds(9));
  EXPECT_NE(Rendered(latency).find("_count 1\n"), std::string::npos);
  json::Value web2 = Slice("web", started + absl::Seconds(10));
  latency.Applied({&old, &web2}, started + absl::Seconds(12));
  out = Rendered(latency);
  EXPECT_NE(out.find("_count 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("_bucket{le=\"1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("_bucket{le=\"2\"} 2\n"), std::string::npos) << out;
  // A slice that went and came back with the same trigger is a new change in place.
  latency.Applied({&old}, started + absl::Seconds(13));
  latency.Applied({&old, &web2}, started + absl::Seconds(14));
  EXPECT_NE(Rendered(latency).find("_count 3\n"), std::string::npos);
}

}  // namespace
}  // namespace berth::agent::network
