#include "kubelet-like-agent/node/node_status.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

// lastTransitionTime is when the status last changed, not when it was last reported.
TEST(NodeStatusTest, ConditionsKeepTheirTransitionTimeWhileTheStatusHolds) {
  json::Value previous = *json::Parse(R"([
    {"type":"Ready","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z"},
    {"type":"MemoryPressure","status":"False","lastTransitionTime":"2026-01-01T00:00:00Z"}])");
  json::Value status = *json::Parse(R"({"conditions":[
    {"type":"Ready","status":"True","lastTransitionTime":"2026-01-02T00:00:00Z"},
    {"type":"MemoryPressure","status":"True","lastTransitionTime":"2026-01-02T00:00:00Z"},
    {"type":"PIDPressure","status":"False","lastTransitionTime":"2026-01-02T00:00:00Z"}]})");
  KeepTransitionTimes(status, previous);
  const json::Array& c = status.Find("conditions")->as_array();
  EXPECT_EQ(c[0].GetString({"lastTransitionTime"}), "2026-01-01T00:00:00Z");  // still Ready
  EXPECT_EQ(c[1].GetString({"lastTransitionTime"}), "2026-01-02T00:00:00Z");  // changed
  EXPECT_EQ(c[2].GetString({"lastTransitionTime"}), "2026-01-02T00:00:00Z");  // new
}

}  // namespace
}  // namespace berth::agent
