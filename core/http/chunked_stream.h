#pragma once
// File: core/http/chunked_stream.h
// A chunked response body as handlers see it (Stream): writes from any thread queue up to a cap
// (a reader that stopped reading is dropped and its bytes freed); the session's thread takes
// what is queued and sends it as one chunk.

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/http/http.h"

namespace berth::http::internal {

class StreamImpl final : public Stream {
 public:
  StreamImpl(size_t cap, std::function<void()> kick) : cap_(cap), kick_(std::move(kick)) {}

  bool Write(std::string_view data) override {
    bool kick = false, ok = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return false;
      if (queued_.size() + inflight_ + data.size() > cap_) {
        // A reader that stopped reading: drop it and free what it held.
        closed_ = aborted_ = true;
        std::string().swap(queued_);
        kick = true;
        ok = false;
      } else {
        queued_.append(data);
        kick = !kick_posted_;
        kick_posted_ = true;
      }
    }
    if (kick) kick_();
    return ok;
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    kick_();
  }

  size_t Pending() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return queued_.size() + inflight_;
  }

  bool Closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  void OnClosed(std::function<void()> callback) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!finished_) {
        callbacks_.push_back(std::move(callback));
        return;
      }
    }
    callback();
  }

  // Network side (the session's thread).
  struct Batch {
    std::string data;
    bool end = false, aborted = false;
  };
  Batch Take() {
    std::lock_guard<std::mutex> lock(mu_);
    kick_posted_ = false;
    Batch b;
    b.aborted = aborted_;
    b.data.swap(queued_);
    inflight_ = b.data.size();
    b.end = closed_ && b.data.empty();
    return b;
  }
  void Sent() {
    std::lock_guard<std::mutex> lock(mu_);
    inflight_ = 0;
  }
  bool Aborted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return aborted_;
  }
  void Finished() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = closed_ = true;
      std::string().swap(queued_);
      inflight_ = 0;
      callbacks.swap(callbacks_);
    }
    for (auto& cb : callbacks) cb();
  }

 private:
  const size_t cap_;
  std::function<void()> kick_;
  mutable std::mutex mu_;
  std::string queued_;
  size_t inflight_ = 0;
  bool kick_posted_ = false;
  bool closed_ = false, aborted_ = false, finished_ = false;
  std::vector<std::function<void()>> callbacks_;
};

}  // namespace berth::http::internal
