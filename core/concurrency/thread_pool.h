#pragma once
// File: core/concurrency/thread_pool.h
// A fixed pool of threads draining one FIFO queue. The apiserver runs handlers that wait for a
// durable commit here, never on cpprestsdk's own pool (libraries.md §1.4: a blocked pool
// thread can deadlock the server).

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace berth {

class ThreadPool {
 public:
  // `name` names each thread (see thread_name.h); empty keeps the process's name.
  explicit ThreadPool(size_t threads, std::string_view name = {});
  ~ThreadPool();  // runs what is queued, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task);
  size_t queued() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace berth
