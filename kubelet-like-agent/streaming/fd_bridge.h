#pragma once
// File: kubelet-like-agent/streaming/fd_bridge.h
// Moves bytes between file descriptors (a command's pipes or terminal, a FIFO, a socket in the
// pod) and one upgraded client connection, on one thread per session. Back-pressure both ways:
// descriptors are not read while the connection's unsent backlog is large, and the
// connection is not read while a descriptor's queued input is large.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/http/http.h"

namespace berth::agent::streaming {

class FdBridge {
 public:
  explicit FdBridge(std::shared_ptr<http::Duplex> connection);
  ~FdBridge();  // closes every descriptor it still holds
  FdBridge(const FdBridge&) = delete;
  FdBridge& operator=(const FdBridge&) = delete;

  // Bytes read from `fd` go to `emit`; at end of file (or an error) `on_eof` runs and the bridge
  // closes `fd`. Any thread.
  void AddReader(int fd, std::function<void(std::string_view)> emit, std::function<void()> on_eof);
  // `fd` receives what Write queues for `handle` (also what was queued before AddWriter);
  // CloseWriter closes it once drained. A write error closes it and runs `on_error`. Any thread.
  void AddWriter(int handle, int fd, std::function<void()> on_error = nullptr);
  void Write(int handle, std::string_view data);
  void CloseWriter(int handle);
  // Closes both directions of whatever `handle` names (reader fd and writer).
  void Drop(int reader_fd);

  // Wakes Run for its `tick` (a resize arrived, a log grew).
  void Wake();
  // Ends Run at its next wake-up. Any thread.
  void Stop();
  bool Stopped() const;

  // Runs until Stop, or (when `until_readers_done`) until every reader reached end of file and
  // every writer drained. `tick` runs after each wake-up and at least every `interval`.
  void Run(const std::function<void()>& tick, absl::Duration interval, bool until_readers_done);

 private:
  struct Reader {
    std::function<void(std::string_view)> emit;
    std::function<void()> on_eof;
  };
  struct Writer {
    int fd = -1;
    std::string queued;
    bool closing = false;
    std::function<void()> on_error;
  };

  std::shared_ptr<http::Duplex> connection_;
  int wake_fd_ = -1;
  mutable std::mutex mu_;
  std::map<int, Reader> readers_;   // by fd
  std::map<int, Writer> writers_;   // by handle
  size_t queued_bytes_ = 0;
  bool paused_ = false;
  bool stopped_ = false;
};

}  // namespace berth::agent::streaming
