#pragma once
// File: core/client/cpprest_sink_streambuf.h
// A write-only cpprestsdk stream buffer that hands every piece of a response body to a callback
// on the thread that read it, and completes the write only when the callback returns.
//
// Why: a response's default body buffer (producer_consumer_buffer) accepts whatever the
// network delivers at once and queues it for the reader. When the reader is slower (a blob's
// hash and its write to disk), a pull buffered most of each layer in memory: 35 MB of RSS for a
// 51 MB image, growing with the layer, every page faulted in fresh. cpprestsdk's asio client
// waits for each write's task before it reads on, so a buffer that writes synchronously gives
// the download the disk's pace and at most one read's worth of memory.
// Included only by cpprest_transport.cc (it needs cpprestsdk's headers).

#include <exception>
#include <functional>
#include <stdexcept>
#include <string_view>

#include <cpprest/astreambuf.h>

namespace berth::client::internal {

class SinkStreambuf final : public Concurrency::streams::details::streambuf_state_manager<uint8_t> {
 public:
  using Base = Concurrency::streams::details::streambuf_state_manager<uint8_t>;
  using int_type = Base::int_type;
  using pos_type = Base::pos_type;
  using off_type = Base::off_type;
  using traits = Base::traits;

  // `sink` returns false to stop the transfer: the write then fails, and cpprestsdk ends the
  // response with an error the caller can tell apart through stopped().
  explicit SinkStreambuf(std::function<bool(std::string_view)> sink) : Base(std::ios_base::out), sink_(std::move(sink)) {}

  bool stopped() const { return stopped_; }

  bool can_seek() const override { return false; }
  bool has_size() const override { return false; }
  size_t buffer_size(std::ios_base::openmode) const override { return 0; }
  void set_buffer_size(size_t, std::ios_base::openmode) override {}
  size_t in_avail() const override { return 0; }
  pos_type getpos(std::ios_base::openmode) const override { return pos_type(traits::eof()); }
  pos_type seekpos(pos_type, std::ios_base::openmode) override { return pos_type(traits::eof()); }
  pos_type seekoff(off_type, std::ios_base::seekdir, std::ios_base::openmode) override { return pos_type(traits::eof()); }
  bool acquire(uint8_t*& ptr, size_t& count) override {
    ptr = nullptr;
    count = 0;
    return false;
  }
  void release(uint8_t*, size_t) override {}

 protected:
  pplx::task<int_type> _putc(uint8_t ch) override {
    return Put(&ch, 1) ? pplx::task_from_result<int_type>(ch) : Failed<int_type>();
  }
  pplx::task<size_t> _putn(const uint8_t* ptr, size_t count) override {
    return Put(ptr, count) ? pplx::task_from_result<size_t>(count) : Failed<size_t>();
  }
  // Nothing to read back: the body went to the callback.
  pplx::task<int_type> _bumpc() override { return pplx::task_from_result<int_type>(traits::eof()); }
  int_type _sbumpc() override { return traits::eof(); }
  pplx::task<int_type> _getc() override { return pplx::task_from_result<int_type>(traits::eof()); }
  int_type _sgetc() override { return traits::eof(); }
  pplx::task<int_type> _nextc() override { return pplx::task_from_result<int_type>(traits::eof()); }
  pplx::task<int_type> _ungetc() override { return pplx::task_from_result<int_type>(traits::eof()); }
  pplx::task<size_t> _getn(uint8_t*, size_t) override { return pplx::task_from_result<size_t>(0); }
  size_t _scopy(uint8_t*, size_t) override { return 0; }
  pplx::task<bool> _sync() override { return pplx::task_from_result(true); }
  // No buffer to lend: cpprestsdk then writes through _putn.
  uint8_t* _alloc(size_t) override { return nullptr; }
  void _commit(size_t) override {}

 private:
  bool Put(const uint8_t* ptr, size_t count) {
    if (stopped_) return false;
    if (!sink_(std::string_view(reinterpret_cast<const char*>(ptr), count))) stopped_ = true;
    return !stopped_;
  }
  template <class T>
  static pplx::task<T> Failed() {
    return pplx::task_from_exception<T>(std::make_exception_ptr(std::runtime_error("the body's reader stopped the transfer")));
  }

  std::function<bool(std::string_view)> sink_;
  bool stopped_ = false;  // written and read on cpprestsdk's reading thread, then after it ends
};

}  // namespace berth::client::internal
