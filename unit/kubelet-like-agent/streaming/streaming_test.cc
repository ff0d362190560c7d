// The exec/attach channel protocol, SPDY/3.1 framing and the descriptor bridge, without a
// network: what kubectl and the Python client send, byte for byte.

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "kubelet-like-agent/streaming/fd_bridge.h"
#include "kubelet-like-agent/streaming/remote_command.h"
#include "kubelet-like-agent/streaming/spdy.h"
#include "testing/eventually.h"

namespace berth::agent::streaming {
namespace {

TEST(RemoteCommand, NegotiatesTheClientsPreferredKnownProtocol) {
  EXPECT_EQ(NegotiateRemoteCommand("v5.channel.k8s.io, v4.channel.k8s.io")->version, 5);
  EXPECT_EQ(NegotiateRemoteCommand("v4.channel.k8s.io")->name, "v4.channel.k8s.io");
  EXPECT_EQ(NegotiateRemoteCommand("x.example, v4.base64.channel.k8s.io")->base64, true);
  auto none = NegotiateRemoteCommand("");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->version, 1);
  EXPECT_EQ(none->name, "");
  EXPECT_FALSE(NegotiateRemoteCommand("v6.channel.k8s.io").has_value());
}

TEST(RemoteCommand, EncodesAndDecodesBinaryAndBase64Channels) {
  RemoteCommandProtocol v5{"v5.channel.k8s.io", 5, false};
  std::string m = EncodeChannelMessage(v5, kStdout, std::string("a\0b", 3));
  EXPECT_EQ(m, std::string("\x01" "a\0b", 4));
  auto d = DecodeChannelMessage(v5, std::string("\xff\x00", 2));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->channel, kCloseChannel);
  EXPECT_EQ(d->data, std::string("\0", 1));
  RemoteCommandProtocol b64{"base64.channel.k8s.io", 1, true};
  EXPECT_EQ(EncodeChannelMessage(b64, kStderr, "hi"), "2aGk=");
  auto back = DecodeChannelMessage(b64, "0aGk=");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->channel, kStdin);
  EXPECT_EQ(back->data, "hi");
  EXPECT_FALSE(DecodeChannelMessage(v5, "").ok());
  EXPECT_FALSE(DecodeChannelMessage(b64, "x").ok());
  EXPECT_FALSE(DecodeChannelMessage(b64, "0***").ok());
}

TEST(RemoteCommand, ExitStatusIsWhatKubectlTurnsIntoAnExitCode) {
  RemoteCommandProtocol v4{"v4.channel.k8s.io", 4, false};
  EXPECT_EQ(ExitStatusPayload(v4, 0, {"true"}), R"({"metadata":{},"status":"Success"})");
  std::string failed = ExitStatusPayload(v4, 3, {"sh", "-c", "exit 3"});
  EXPECT_NE(failed.find(R"("reason":"NonZeroExitCode")"), std::string::npos) << failed;
  EXPECT_NE(failed.find(R"("causes":[{"reason":"ExitCode","message":"3"}])"), std::string::npos) << failed;
  RemoteCommandProtocol v1{"channel.k8s.io", 1, false};
  EXPECT_EQ(ExitStatusPayload(v1, 0, {}), "");
  EXPECT_NE(ErrorStatusPayload(v4, "NotFound", "no \"x\"").find(R"("message":"no \"x\"")"), std::string::npos);
}

TEST(RemoteCommand, ParsesTerminalSizes) {
  auto size = ParseTerminalSize(R"({"Width":120,"Height":40})");
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->first, 120);
  EXPECT_EQ(size->second, 40);
  EXPECT_FALSE(ParseTerminalSize(R"({"Width":-1,"Height":40})").ok());
  EXPECT_FALSE(ParseTerminalSize(R"({"Width":70000,"Height":40})").ok());
  EXPECT_FALSE(ParseTerminalSize("[]").ok());
}

// ---- SPDY ----

// What spdystream's framer sends: a header block compressed with the dictionary on one
// deflate stream per session.
class SpdyClient {
 public:
  SpdyClient() {
    deflateInit(&out_, Z_DEFAULT_COMPRESSION);
    const std::string& d = SpdyHeaderDictionary();
    deflateSetDictionary(&out_, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
    inflateInit(&in_);
  }
  ~SpdyClient() {
    deflateEnd(&out_);
    inflateEnd(&in_);
  }
  static void Be32(std::string& s, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
  }
  std::string SynStream(uint32_t id, const std::vector<std::pair<std::string, std::string>>& headers) {
    std::string block;
    Be32(block, static_cast<uint32_t>(headers.size()));
    for (const auto& [k, v] : headers) {
      Be32(block, static_cast<uint32_t>(k.size()));
      block += k;
      Be32(block, static_cast<uint32_t>(v.size()));
      block += v;
    }
    std::string compressed(block.size() + 256, '\0');
    out_.next_in = reinterpret_cast<Bytef*>(block.data());
    out_.avail_in = static_cast<uInt>(block.size());
    out_.next_out = reinterpret_cast<Bytef*>(compressed.data());
    out_.avail_out = static_cast<uInt>(compressed.size());
    deflate(&out_, Z_SYNC_FLUSH);
    compressed.resize(compressed.size() - out_.avail_out);
    std::string body;
    Be32(body, id);
    Be32(body, 0);
    body.push_back(0);
    body.push_back(0);
    body += compressed;
    std::string frame = {static_cast<char>(0x80), 3, 0, 1, 0};
    frame.push_back(static_cast<char>((body.size() >> 16) & 0xff));
    frame.push_back(static_cast<char>((body.size() >> 8) & 0xff));
    frame.push_back(static_cast<char>(body.size() & 0xff));
    return frame + body;
  }
  // Decodes a SYN_REPLY's header count (the server's compression stream, with the dictionary).
  int ReplyHeaderCount(const std::string& frame) {
    std::string compressed = frame.substr(12);
    in_.next_in = reinterpret_cast<Bytef*>(compressed.data());
    in_.avail_in = static_cast<uInt>(compressed.size());
    char buf[1024];
    in_.next_out = reinterpret_cast<Bytef*>(buf);
    in_.avail_out = sizeof buf;
    int rc = inflate(&in_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const std::string& d = SpdyHeaderDictionary();
      inflateSetDictionary(&in_, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
      rc = inflate(&in_, Z_SYNC_FLUSH);
    }
    if (rc != Z_OK) return -1;
    return static_cast<uint8_t>(buf[3]);
  }

 private:
  z_stream out_{}, in_{};
};

TEST(Spdy, TheDictionaryIsTheSpecsSize) { EXPECT_EQ(SpdyHeaderDictionary().size(), 1423u); }

TEST(Spdy, DecodesWhatPortForwardClientsSendEvenByteByByte) {
  SpdyClient client;
  // One statement each: the header blocks share a compression stream, so order matters.
  std::string wire = client.SynStream(1, {{"streamtype", "error"}, {"port", "8080"}, {"requestid", "0"}});
  wire += client.SynStream(3, {{"streamtype", "data"}, {"port", "8080"}, {"requestid", "0"}});
  wire += SpdyCodec::Data(3, "GET / HTTP/1.0\r\n\r\n", true) + SpdyCodec::Ping(1);
  SpdyCodec codec;
  std::vector<SpdyFrame> frames;
  for (char c : wire) {
    absl::Status fed = codec.Feed(std::string_view(&c, 1), frames);
    ASSERT_TRUE(fed.ok()) << fed;
  }
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].type, SpdyFrameType::kSynStream);
  EXPECT_EQ(frames[0].stream_id, 1u);
  EXPECT_EQ(frames[0].Header("streamtype"), "error");
  EXPECT_EQ(frames[1].Header("port"), "8080");
  EXPECT_EQ(frames[2].type, SpdyFrameType::kData);
  EXPECT_TRUE(frames[2].fin());
  EXPECT_EQ(frames[2].data, "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(frames[3].type, SpdyFrameType::kPing);
  EXPECT_EQ(frames[3].value, 1u);
  // Replies use the server's own compression stream; the client inflates two in a row.
  EXPECT_EQ(client.ReplyHeaderCount(codec.SynReply(1, {}, false)), 0);
  EXPECT_EQ(client.ReplyHeaderCount(codec.SynReply(3, {{"a", "b"}}, false)), 1);
}

TEST(Spdy, RefusesWhatWouldEndTheSession) {
  {
    SpdyCodec codec;
    std::vector<SpdyFrame> frames;
    std::string v2 = {static_cast<char>(0x80), 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1};
    EXPECT_FALSE(codec.Feed(v2, frames).ok());
  }
  {
    SpdyCodec codec;
    std::vector<SpdyFrame> frames;
    std::string huge = {0, 0, 0, 1, 0, static_cast<char>(0xff), static_cast<char>(0xff), static_cast<char>(0xff)};
    EXPECT_FALSE(codec.Feed(huge, frames).ok());
  }
  {
    SpdyCodec codec;
    std::vector<SpdyFrame> frames;
    std::string garbage_headers = {static_cast<char>(0x80), 3, 0, 1, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 'x', 'y', 'z', 'w'};
    EXPECT_FALSE(codec.Feed(garbage_headers, frames).ok());
  }
}

// ---- FdBridge ----

class FakeDuplex final : public http::Duplex {
 public:
  void Start(http::DuplexCallbacks) override {}
  bool Send(std::string data) override {
    std::lock_guard<std::mutex> lock(mu);
    sent.push_back(std::move(data));
    return true;
  }
  void Close(int) override {}
  void PauseReading(bool p) override { paused = p; }
  size_t Pending() const override { return 0; }
  bool Closed() const override { return false; }
  std::string All() {
    std::lock_guard<std::mutex> lock(mu);
    std::string out;
    for (auto& s : sent) out += s;
    return out;
  }
  std::mutex mu;
  std::deque<std::string> sent;
  std::atomic<bool> paused{false};
};

TEST(FdBridge, MovesBytesBothWaysUntilEveryReaderEnds) {
  auto conn = std::make_shared<FakeDuplex>();
  FdBridge bridge(conn);
  int to_cmd[2], from_cmd[2];
  ASSERT_EQ(pipe(to_cmd), 0);
  ASSERT_EQ(pipe(from_cmd), 0);
  bridge.AddWriter(0, to_cmd[1]);
  bridge.AddReader(from_cmd[0], [&](std::string_view d) { conn->Send(std::string(d)); }, nullptr);
  // A "command": echoes its input, upper-cased, until end of file.
  std::thread cmd([&] {
    char buf[256];
    ssize_t n;
    while ((n = read(to_cmd[0], buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; ++i) buf[i] = static_cast<char>(std::toupper(buf[i]));
      ASSERT_EQ(write(from_cmd[1], buf, static_cast<size_t>(n)), n);
    }
    close(to_cmd[0]);
    close(from_cmd[1]);
  });
  std::thread run([&] { bridge.Run(nullptr, absl::Seconds(1), true); });
  bridge.Write(0, "hello ");
  bridge.Write(0, "world");
  bridge.CloseWriter(0);
  run.join();
  cmd.join();
  EXPECT_EQ(conn->All(), "HELLO WORLD");
}

TEST(FdBridge, PausesTheClientWhileInputBacksUp) {
  auto conn = std::make_shared<FakeDuplex>();
  FdBridge bridge(conn);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  bridge.AddWriter(0, p[1]);
  std::string big(2 << 20, 'x');
  bridge.Write(0, big);  // nobody reads the pipe: the queue stays
  EXPECT_TRUE(conn->paused.load());
  std::thread run([&] { bridge.Run(nullptr, absl::Milliseconds(10), false); });
  std::string got;
  char buf[65536];
  while (got.size() < big.size()) {
    ssize_t n = read(p[0], buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_TRUE(berth::testing::Eventually([&] { return !conn->paused.load(); }));
  bridge.Stop();
  run.join();
  close(p[0]);
  EXPECT_EQ(got.size(), big.size());
}

}  // namespace
}  // namespace berth::agent::streaming
