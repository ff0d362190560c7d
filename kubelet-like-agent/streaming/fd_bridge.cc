#include "kubelet-like-agent/streaming/fd_bridge.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace berth::agent::streaming {
namespace {

constexpr size_t kMaxBacklog = 1 << 20;     // unsent to the client before descriptors wait
constexpr size_t kPauseInput = 1 << 20;     // queued towards descriptors before the client waits
constexpr size_t kResumeInput = 256 << 10;

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

FdBridge::FdBridge(std::shared_ptr<http::Duplex> connection)
    : connection_(std::move(connection)), wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

FdBridge::~FdBridge() {
  for (auto& [fd, r] : readers_) close(fd);
  for (auto& [h, w] : writers_) {
    if (w.fd >= 0 && readers_.count(w.fd) == 0) close(w.fd);
  }
  if (wake_fd_ >= 0) close(wake_fd_);
}

void FdBridge::AddReader(int fd, std::function<void(std::string_view)> emit, std::function<void()> on_eof) {
  SetNonBlocking(fd);
  {
    std::lock_guard<std::mutex> lock(mu_);
    readers_[fd] = Reader{std::move(emit), std::move(on_eof)};
  }
  Wake();
}

void FdBridge::AddWriter(int handle, int fd, std::function<void()> on_error) {
  SetNonBlocking(fd);
  {
    // Input may have arrived (and even ended) before the descriptor existed: it waits here.
    std::lock_guard<std::mutex> lock(mu_);
    Writer& w = writers_[handle];
    w.fd = fd;
    w.on_error = std::move(on_error);
  }
  Wake();
}

void FdBridge::Write(int handle, std::string_view data) {
  bool pause = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Writer& w = writers_[handle];
    if (w.closing) return;
    w.queued.append(data);
    queued_bytes_ += data.size();
    if (queued_bytes_ > kPauseInput && !paused_) pause = paused_ = true;
  }
  if (pause) connection_->PauseReading(true);
  Wake();
}

void FdBridge::CloseWriter(int handle) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    writers_[handle].closing = true;
  }
  Wake();
}

void FdBridge::Drop(int reader_fd) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = writers_.begin(); it != writers_.end();) {
    if (it->second.fd == reader_fd) {
      queued_bytes_ -= it->second.queued.size();
      it = writers_.erase(it);
    } else {
      ++it;
    }
  }
  if (readers_.erase(reader_fd) > 0) close(reader_fd);
}

void FdBridge::Wake() {
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

void FdBridge::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  Wake();
}

bool FdBridge::Stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

void FdBridge::Run(const std::function<void()>& tick, absl::Duration interval, bool until_readers_done) {
  std::vector<char> buf(64 * 1024);
  while (true) {
    std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}};
    bool backlogged = connection_->Pending() > kMaxBacklog;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      bool writers_idle = true;
      for (auto& [h, w] : writers_) {
        if (w.fd >= 0 && (!w.queued.empty() || w.closing)) writers_idle = false;  // fd < 0: never added
      }
      if (until_readers_done && readers_.empty() && writers_idle) return;
      if (!backlogged) {
        for (auto& [fd, r] : readers_) fds.push_back({fd, POLLIN, 0});
      }
      for (auto& [h, w] : writers_) {
        if (w.fd >= 0 && !w.queued.empty()) fds.push_back({w.fd, POLLOUT, 0});
      }
    }
    int timeout = static_cast<int>(absl::ToInt64Milliseconds(interval));
    if (backlogged) timeout = std::min(timeout, 20);
    poll(fds.data(), fds.size(), timeout);
    uint64_t drained;
    while (read(wake_fd_, &drained, sizeof drained) > 0) {
    }
    if (tick) tick();

    // Client input towards descriptors.
    std::vector<std::function<void()>> errors;
    bool resume = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = writers_.begin(); it != writers_.end();) {
        Writer& w = it->second;
        while (w.fd >= 0 && !w.queued.empty()) {
          ssize_t n = write(w.fd, w.queued.data(), w.queued.size());
          if (n > 0) {
            w.queued.erase(0, static_cast<size_t>(n));
            queued_bytes_ -= static_cast<size_t>(n);
            continue;
          }
          if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
          queued_bytes_ -= w.queued.size();
          w.queued.clear();
          if (w.on_error) errors.push_back(w.on_error);
          w.closing = true;
          break;
        }
        if (w.closing && w.queued.empty() && w.fd >= 0) {
          // A writer that shares its descriptor with a reader (a socket) only half-closes.
          if (readers_.count(w.fd) > 0) {
            shutdown(w.fd, SHUT_WR);
          } else {
            close(w.fd);
          }
          it = writers_.erase(it);
        } else {
          ++it;
        }
      }
      if (paused_ && queued_bytes_ < kResumeInput) {
        paused_ = false;
        resume = true;
      }
    }
    for (auto& e : errors) e();
    if (resume) connection_->PauseReading(false);

    // Descriptor output towards the client.
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)) || (fds[i].events & POLLOUT)) continue;
      int fd = fds[i].fd;
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      Reader reader;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = readers_.find(fd);
        if (it == readers_.end()) continue;
        reader = it->second;
        if (n <= 0) {
          readers_.erase(it);
          bool also_writer = false;
          for (auto& [h, w] : writers_) also_writer = also_writer || w.fd == fd;
          if (!also_writer) close(fd);
        }
      }
      if (n > 0) {
        reader.emit(std::string_view(buf.data(), static_cast<size_t>(n)));
      } else if (reader.on_eof) {
        reader.on_eof();
      }
    }
  }
}

}  // namespace berth::agent::streaming
