// The client transport's line splitting of a streamed GET (watches), against the project's own
// HTTP server writing lines cut at awkward places.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/client/transport.h"
#include "core/http/http.h"
#include "gtest/gtest.h"

namespace berth::client {
namespace {

// Holds the server's stream so the test can write to it piece by piece.
struct StreamBox {
  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<http::Stream> stream;
  std::vector<std::string> lines;

  std::shared_ptr<http::Stream> Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return stream != nullptr; });
    return stream;
  }
  void Add(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(line);
    cv.notify_all();
  }
  bool WaitForLines(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return lines.size() >= n; });
  }
};

// Streams GET /watch from a server answering with `respond`; the lines until `keep_going`
// says stop (or the stream ends).
std::vector<std::string> ReadLines(std::function<void(std::shared_ptr<http::Stream>)> respond,
                                   std::function<bool(const std::vector<std::string>&)> keep_going) {
  auto server = http::StartServer(http::ServerOptions{}, [&](http::Request, std::shared_ptr<http::Responder> r) {
    respond(r->StartStream(200, "application/json"));
  });
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return {};
  auto transport = NewCpprestTransport("http://127.0.0.1:" + std::to_string((*server)->port()));
  std::atomic<bool> cancel{false};
  std::vector<std::string> lines;
  auto result = transport->Stream("/watch", [&](const std::string& line) {
    lines.push_back(line);
    return keep_going(lines);
  }, cancel);
  EXPECT_TRUE(result.ok()) << result.status();
  (*server)->Stop();
  return lines;
}

TEST(CpprestTransportStream, LinesCutAcrossWritesArriveWholeAndWithoutWaitingForMore) {
  StreamBox box;
  auto server = http::StartServer(http::ServerOptions{}, [&](http::Request, std::shared_ptr<http::Responder> r) {
    auto s = r->StartStream(200, "application/json");
    std::lock_guard<std::mutex> lock(box.mu);
    box.stream = s;
    box.cv.notify_all();
  });
  ASSERT_TRUE(server.ok()) << server.status();
  auto transport = NewCpprestTransport("http://127.0.0.1:" + std::to_string((*server)->port()));
  std::atomic<bool> cancel{false};
  absl::StatusOr<int> result = absl::UnknownError("not run");
  std::thread reader([&] {
    result = transport->Stream("/watch", [&](const std::string& line) {
      box.Add(line);
      return true;
    }, cancel);
  });
  auto stream = box.Wait();
  ASSERT_NE(stream, nullptr);
  // One whole line and the start of the next: the whole one is handed over now, though far
  // less than a read block has arrived.
  stream->Write("{\"a\":1}\n{\"b\"");
  ASSERT_TRUE(box.WaitForLines(1));
  // The rest of the second line (CRLF-terminated), an empty line (skipped) and a third line
  // split in the middle of its terminator's write.
  stream->Write(":2}\r\n\n{\"c\":");
  stream->Write("3}");
  stream->Write("\n");
  ASSERT_TRUE(box.WaitForLines(3));
  stream->Close();
  reader.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 200);
  EXPECT_EQ(box.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  (*server)->Stop();
}

TEST(CpprestTransportStream, ALineLargerThanAReadBlockArrivesWhole) {
  const std::string big = "{\"x\":\"" + std::string(200 * 1024, 'y') + "\"}";
  auto lines = ReadLines(
      [&](std::shared_ptr<http::Stream> s) {
        s->Write(big.substr(0, 1000));
        s->Write(big.substr(1000) + "\n{}\n");
        s->Close();
      },
      [](const std::vector<std::string>&) { return true; });
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], big);
  EXPECT_EQ(lines[1], "{}");
}

TEST(CpprestTransportStream, TheCallerStopsTheStreamByReturningFalse) {
  // The stream is left open: only the caller's answer ends the read.
  auto lines = ReadLines([](std::shared_ptr<http::Stream> s) { s->Write("1\n2\n3\n"); },
                         [](const std::vector<std::string>& lines) { return lines.size() < 2; });
  EXPECT_EQ(lines, (std::vector<std::string>{"1", "2"}));
}

}  // namespace
}  // namespace berth::client
