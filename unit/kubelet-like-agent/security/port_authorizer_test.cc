// The agent port's decisions: 401 without a verified certificate, the kubelet's mapping of
// method and path to verb and subresource, and its cache (allowed 5 minutes, denied 30 seconds).

#include "kubelet-like-agent/security/port_authorizer.h"

#include <gtest/gtest.h>

#include "testing/fake_clock.h"

namespace berth::agent {
namespace {

http::Request From(const std::string& user, const std::string& method, const std::string& path) {
  http::Request r;
  r.method = method;
  r.path = path;
  if (!user.empty()) r.peer = http::PeerIdentity{user, {"ops"}};
  return r;
}

TEST(PortAuthorizerTest, MapsRequestsAsTheKubeletDoes) {
  NodeAccess a = AccessOf(From("alice", "POST", "/exec/default/p/c"), "n1");
  EXPECT_EQ(a.user, "alice");
  EXPECT_EQ(a.groups, (std::vector<std::string>{"ops", "system:authenticated"}));
  EXPECT_EQ(a.verb, "create");
  EXPECT_EQ(a.subresource, "proxy");
  EXPECT_EQ(a.node, "n1");
  EXPECT_EQ(AccessOf(From("a", "GET", "/stats/summary"), "n1").subresource, "stats");
  EXPECT_EQ(AccessOf(From("a", "GET", "/metrics"), "n1").subresource, "metrics");
  EXPECT_EQ(AccessOf(From("a", "GET", "/logs/syslog"), "n1").subresource, "log");
  EXPECT_EQ(AccessOf(From("a", "GET", "/logsx"), "n1").subresource, "proxy");
  EXPECT_EQ(AccessOf(From("a", "GET", "/containerLogs/ns/p/c"), "n1").verb, "get");
}

TEST(PortAuthorizerTest, UnauthenticatedIs401AndAnswersAreCached) {
  testing::FakeClock clock;
  int asked = 0;
  bool allow = false;
  PortAuthorizer authorizer("n1", [&](const NodeAccess&) -> absl::StatusOr<bool> { ++asked; return allow; }, clock);
  std::string why;
  EXPECT_EQ(authorizer.Check(From("", "GET", "/exec/a/b/c"), why), 401);
  EXPECT_EQ(why, "Unauthorized");
  EXPECT_EQ(asked, 0);
  EXPECT_EQ(authorizer.Check(From("alice", "GET", "/exec/a/b/c"), why), 403);
  EXPECT_EQ(why, "Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)");
  allow = true;
  EXPECT_EQ(authorizer.Check(From("alice", "GET", "/exec/a/b/c"), why), 403);  // denial cached
  EXPECT_EQ(asked, 1);
  clock.Advance(absl::Seconds(31));
  EXPECT_EQ(authorizer.Check(From("alice", "GET", "/exec/a/b/c"), why), 0);
  EXPECT_EQ(asked, 2);
  allow = false;
  clock.Advance(absl::Minutes(4));
  EXPECT_EQ(authorizer.Check(From("alice", "GET", "/exec/a/b/c"), why), 0);  // allowance cached
  clock.Advance(absl::Minutes(2));
  EXPECT_EQ(authorizer.Check(From("alice", "GET", "/exec/a/b/c"), why), 403);
  EXPECT_EQ(asked, 3);
}

TEST(PortAuthorizerTest, AFailureToAskIs503AndNotCached) {
  testing::FakeClock clock;
  int asked = 0;
  PortAuthorizer authorizer("n1", [&](const NodeAccess&) -> absl::StatusOr<bool> {
    ++asked;
    return absl::UnavailableError("apiserver down");
  }, clock);
  std::string why;
  EXPECT_EQ(authorizer.Check(From("alice", "GET", "/exec/a/b/c"), why), 503);
  EXPECT_EQ(authorizer.Check(From("alice", "GET", "/exec/a/b/c"), why), 503);
  EXPECT_EQ(asked, 2);
}

}  // namespace
}  // namespace berth::agent
