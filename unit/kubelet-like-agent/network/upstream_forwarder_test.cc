// File: unit/kubelet-like-agent/network/upstream_forwarder_test.cc
// The cluster DNS relaying names outside its zone: nameservers played by sockets on loopback
// addresses (127.0.0.1 and 127.0.0.2 share one port), time by a fake clock.
#include "kubelet-like-agent/network/dns/upstream_forwarder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "core/json/codec.h"

#include "kubelet-like-agent/network/dns/dns_server.h"
#include "kubelet-like-agent/network/dns/dns_wire.h"
#include "testing/fake_clock.h"

namespace berth::agent::network::dns {
namespace {

std::string QueryFor(const std::string& name, uint16_t id, bool recursion_desired = true) {
  std::string p = QueryPacket(id, name, kA);
  if (!recursion_desired) p[2] = 0;  // RD is the low bit of the third byte
  return p;
}

// A UDP socket bound on a loopback address: a nameserver, or a client.
struct Peer {
  int fd = -1;
  sockaddr_in address{};
  Peer(const char* ip, uint16_t port, int type = SOCK_DGRAM) {
    fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    inet_pton(AF_INET, ip, &address.sin_addr);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << ip << ":" << port;
    socklen_t len = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len);
    if (type == SOCK_STREAM) listen(fd, 4);
  }
  ~Peer() { close(fd); }
  uint16_t port() const { return ntohs(address.sin_port); }
  // What arrived within a second, and from where.
  std::string Receive(sockaddr_in* from = nullptr) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) != 1) return "";
    char buffer[4096];
    sockaddr_in sender{};
    socklen_t len = sizeof sender;
    ssize_t n = recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&sender), &len);
    if (from) *from = sender;
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
  }
  void SendTo(const std::string& packet, const sockaddr_in& to) {
    sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }
};

UpstreamForwarder::SocketMaker Sockets() {
  return [](int domain, int type) -> absl::StatusOr<int> { return socket(domain, type | SOCK_CLOEXEC, 0); };
}

uint32_t Ip(const char* dotted) {
  in_addr a{};
  inet_pton(AF_INET, dotted, &a);
  return ntohl(a.s_addr);
}

struct Replies {
  std::vector<std::string> sent;
  UpstreamForwarder::ReplyTo To() {
    return [this](const std::string& reply, const sockaddr_storage&, socklen_t) { sent.push_back(reply); };
  }
};

void WaitReadable(int fd) {
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 1000), 1);
}

TEST(UpstreamForwarder, ReadsTheNameserversOfAResolvConf) {
  EXPECT_EQ(NameserversOf("# a comment\nsearch corp.example\nnameserver 192.0.2.53\nnameserver\t10.96.0.10\n"
                          "nameserver 2001:db8::1\nnameserver 192.0.2.54 \nnameserver 192.0.2.53\noptions ndots:2\n",
                          Ip("10.96.0.10")),
            (std::vector<uint32_t>{Ip("192.0.2.53"), Ip("192.0.2.54")}));
  EXPECT_TRUE(NameserversOf("", 0).empty());
}

TEST(UpstreamForwarder, RelaysAQueryUnderAFreshIdAndTheAnswerBackUnderTheClients) {
  testing::FakeClock clock;
  Peer nameserver("127.0.0.1", 0), stranger("127.0.0.3", 0);
  auto f = UpstreamForwarder::Start(Sockets(), {Ip("127.0.0.1")}, nameserver.port(), clock);
  ASSERT_TRUE(f.ok()) << f.status();
  Replies replies;
  const std::string query = QueryFor("www.example.org", 0x1234);
  (*f)->Forward(query, {}, 0, replies.To());
  sockaddr_in from{};
  std::string relayed = nameserver.Receive(&from);
  ASSERT_EQ(relayed.size(), query.size());
  EXPECT_EQ(relayed.substr(2), query.substr(2));  // the question as asked
  EXPECT_EQ((*f)->pending(), 1u);
  // An answer from anyone but the nameserver asked is dropped, even with the right id.
  std::string forged = relayed;
  forged[2] = static_cast<char>(0x81);
  stranger.SendTo(forged, from);
  std::string answer = relayed;
  answer[2] = static_cast<char>(0x81);
  answer[3] = static_cast<char>(0x80);
  answer += "answer-bytes";
  nameserver.SendTo(answer, from);
  for (int i = 0; i < 2 && replies.sent.empty(); ++i) {
    WaitReadable((*f)->fd());
    (*f)->OnReadable(replies.To());
  }
  ASSERT_EQ(replies.sent.size(), 1u);
  EXPECT_EQ(PacketId(replies.sent[0]), 0x1234);
  EXPECT_EQ(replies.sent[0].substr(2), answer.substr(2));
  EXPECT_EQ((*f)->pending(), 0u);
  EXPECT_EQ((*f)->Expire(replies.To()), -1);  // nothing left to wait for
}

TEST(UpstreamForwarder, ASilentNameserverIsPassedOverAndTheLastOneEndsInServfail) {
  testing::FakeClock clock;
  Peer first("127.0.0.1", 0);
  Peer second("127.0.0.2", first.port());
  auto f = UpstreamForwarder::Start(Sockets(), {Ip("127.0.0.1"), Ip("127.0.0.2")}, first.port(), clock);
  ASSERT_TRUE(f.ok()) << f.status();
  Replies replies;
  (*f)->Forward(QueryFor("slow.example.org", 0x4242), {}, 0, replies.To());
  ASSERT_FALSE(first.Receive().empty());
  EXPECT_EQ((*f)->Expire(replies.To()), 2001);  // waits out the first nameserver's time
  clock.Advance(absl::Milliseconds(2000));
  (*f)->Expire(replies.To());
  EXPECT_TRUE(replies.sent.empty());
  sockaddr_in from{};
  std::string retried = second.Receive(&from);
  ASSERT_FALSE(retried.empty());
  // The first one's late answer is not taken: the query is the second's now.
  first.SendTo(retried, from);
  WaitReadable((*f)->fd());
  (*f)->OnReadable(replies.To());
  EXPECT_TRUE(replies.sent.empty());
  clock.Advance(absl::Milliseconds(2000));
  (*f)->Expire(replies.To());
  ASSERT_EQ(replies.sent.size(), 1u);
  EXPECT_EQ(PacketId(replies.sent[0]), 0x4242);
  EXPECT_EQ(replies.sent[0][3] & 0xf, kServFail);
  EXPECT_EQ((*f)->pending(), 0u);
}

TEST(UpstreamForwarder, WithNoNameserverTheClientGetsServfailAtOnce) {
  testing::FakeClock clock;
  auto f = UpstreamForwarder::Start(Sockets(), {}, 53, clock);
  ASSERT_TRUE(f.ok());
  Replies replies;
  (*f)->Forward(QueryFor("www.example.org", 7), {}, 0, replies.To());
  ASSERT_EQ(replies.sent.size(), 1u);
  EXPECT_EQ(replies.sent[0][3] & 0xf, kServFail);
}

TEST(UpstreamForwarder, RelaysTcpQueries) {
  testing::FakeClock clock;
  Peer listener("127.0.0.1", 0, SOCK_STREAM);
  auto f = UpstreamForwarder::Start(Sockets(), {Ip("127.0.0.1")}, listener.port(), clock);
  ASSERT_TRUE(f.ok());
  const std::string query = QueryFor("big.example.org", 0x0a0b);
  std::thread nameserver([&] {
    int c = accept(listener.fd, nullptr, nullptr);
    char buffer[4096];
    ssize_t n = read(c, buffer, sizeof buffer);
    std::string got(buffer, n > 0 ? static_cast<size_t>(n) : 0);
    std::string answer = got.substr(2) + std::string(600, 'x');  // larger than a UDP answer may be
    std::string framed = TcpFramed(answer);
    (void)!write(c, framed.data(), framed.size());
    close(c);
  });
  std::string answer = (*f)->ForwardTcp(query);
  nameserver.join();
  ASSERT_EQ(answer.size(), query.size() + 600);
  EXPECT_EQ(answer.substr(0, query.size()), query);
}

TEST(ClusterDnsRelay, OnlyRecursiveQueriesForNamesOutsideTheZoneAreRelayed) {
  auto zone = ClusterZone::Build({}, {}, "cluster.local");
  std::optional<DnsServer::Relay> relay;
  const std::string query = QueryFor("www.example.org", 1);
  EXPECT_EQ(DnsServer::Respond(zone.get(), query, false, &relay), "");
  ASSERT_TRUE(relay.has_value());
  EXPECT_EQ(relay->query, query);
  EXPECT_FALSE(relay->finish);
  relay.reset();
  std::string refused = DnsServer::Respond(zone.get(), QueryFor("www.example.org", 1, false), false, &relay);
  EXPECT_FALSE(relay.has_value());
  EXPECT_EQ(refused[3] & 0xf, kRefused);
  std::string nx = DnsServer::Respond(zone.get(), QueryFor("nosuch.default.svc.cluster.local", 1), false, &relay);
  EXPECT_FALSE(relay.has_value());
  EXPECT_EQ(nx[3] & 0xf, kNxDomain);
}

// A nameserver's answer for www.example.org: a CNAME to edge.example.net (its name compressed
// against the question), and that name's A record.
std::string CompressedAnswer(uint16_t id) {
  std::string p = {static_cast<char>(id >> 8), static_cast<char>(id & 0xff), static_cast<char>(0x81), static_cast<char>(0x80),
                   0, 1, 0, 2, 0, 0, 0, 0};
  p += EncodeName("www.example.org");
  p += {0, 1, 0, 1};
  const std::string target = EncodeName("edge.example.net");
  p += {static_cast<char>(0xc0), 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, static_cast<char>(target.size())};
  const size_t target_at = p.size();
  p += target;
  p += {static_cast<char>(0xc0), static_cast<char>(target_at), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, static_cast<char>(184), static_cast<char>(216), 34};
  return p;
}

TEST(ClusterDnsRelay, AnExternalNameIsACnameFollowedInTheZoneOrThroughTheNameservers) {
  json::Value alias = *json::Parse(R"({"metadata":{"name":"db","namespace":"shop"},"spec":{"type":"ExternalName",
      "externalName":"www.example.org."}})");
  json::Value inside = *json::Parse(R"({"metadata":{"name":"local","namespace":"shop"},"spec":{"type":"ExternalName",
      "externalName":"web.shop.svc.cluster.local"}})");
  json::Value web = *json::Parse(R"({"metadata":{"name":"web","namespace":"shop"},"spec":{"clusterIP":"10.96.0.37"}})");
  json::Value loop = *json::Parse(R"({"metadata":{"name":"loop","namespace":"shop"},"spec":{"type":"ExternalName",
      "externalName":"loop.shop.svc.cluster.local"}})");
  auto zone = ClusterZone::Build({&alias, &inside, &web, &loop}, {}, "cluster.local");
  // In the zone: the CNAME and the target's record, from the zone alone.
  Answer local = zone->Resolve("local.shop.svc.cluster.local", kA);
  ASSERT_EQ(local.answers.size(), 2u);
  EXPECT_EQ(local.answers[0].type, kCname);
  EXPECT_EQ(local.answers[0].rdata, EncodeName("web.shop.svc.cluster.local"));
  EXPECT_EQ(local.answers[1].type, kA);
  EXPECT_TRUE(local.follow.empty());
  EXPECT_EQ(zone->Resolve("loop.shop.svc.cluster.local", kA).answers.size(), 9u);  // cut at 8 steps, no hang
  // Asked for the CNAME itself: only it.
  Answer cname = zone->Resolve("db.shop.svc.cluster.local", kCname);
  ASSERT_EQ(cname.answers.size(), 1u);
  EXPECT_TRUE(cname.follow.empty());
  // Outside: the nameservers are asked for the target, and the reply chains both.
  std::optional<DnsServer::Relay> relay;
  EXPECT_EQ(DnsServer::Respond(zone.get(), QueryFor("db.shop.svc.cluster.local", 0x5151), false, &relay), "");
  ASSERT_TRUE(relay.has_value() && relay->finish);
  EXPECT_EQ(relay->query, QueryPacket(0x5151, "www.example.org", kA));
  std::string reply = relay->finish(CompressedAnswer(0x5151));
  EXPECT_EQ(PacketId(reply), 0x5151);
  EXPECT_EQ(reply[3] & 0xf, kNoError);
  Rcode rcode = kServFail;
  auto records = AnswerRecords(reply, &rcode);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].name, "db.shop.svc.cluster.local");
  EXPECT_EQ((*records)[0].rdata, EncodeName("www.example.org"));
  EXPECT_EQ((*records)[1].name, "www.example.org");
  EXPECT_EQ((*records)[1].rdata, EncodeName("edge.example.net"));  // uncompressed on the way through
  EXPECT_EQ((*records)[2].name, "edge.example.net");
  EXPECT_EQ((*records)[2].rdata, std::string({93, static_cast<char>(184), static_cast<char>(216), 34}));
  // A nameserver's garbage is SERVFAIL after the CNAME, never a crash.
  EXPECT_EQ(relay->finish(std::string("\x51\x51\x81\x80\0\1\0\1\0\0\0\0\xc0", 13))[3] & 0xf, kServFail);
}

TEST(ClusterDnsServer, AnIdleTcpClientDoesNotHoldUpUdpAnswers) {
  testing::FakeClock clock;
  auto server = DnsServer::Start(Sockets(), Ip("127.0.0.1"), 0, {}, clock);
  ASSERT_TRUE(server.ok()) << server.status();
  json::Value web = *json::Parse(R"({"metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.37"}})");
  (*server)->SetZone(ClusterZone::Build({&web}, {}, "cluster.local"));
  // A TCP client that connects and sends nothing: the server keeps it for its idle second.
  int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons((*server)->port());
  to.sin_addr.s_addr = htonl(Ip("127.0.0.1"));
  ASSERT_EQ(connect(tcp, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  Peer client("127.0.0.1", 0);
  client.SendTo(QueryFor("web.default.svc.cluster.local", 0x7777), to);
  std::string answer = client.Receive();
  ASSERT_GE(answer.size(), 12u);
  EXPECT_EQ(PacketId(answer), 0x7777);
  // Answered while the TCP connection was still being served, not after it was given up.
  pollfd p{tcp, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0) << "the server had already closed the idle TCP connection";
  close(tcp);
}

}  // namespace
}  // namespace berth::agent::network::dns
