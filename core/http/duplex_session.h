#pragma once
// File: core/http/duplex_session.h
// A connection after a WebSocket or raw upgrade, handed to the handler as a Duplex: one
// queue-and-pump implementation over two transports.

#include <deque>
#include <memory>
#include <string>

#include "core/http/beast_common.h"
#include "core/log/log.h"

namespace berth::http::internal {

template <class S>
struct WebSocketTransport {
  websocket::stream<S> ws;
  explicit WebSocketTransport(S&& s) : ws(std::move(s)) {}
  PlainStream& lowest() { return beast::get_lowest_layer(ws); }
  template <class H>
  void Read(beast::flat_buffer& in, H&& h) { ws.async_read(in, std::forward<H>(h)); }
  template <class H>
  void Write(const std::string& data, H&& h) {
    ws.binary(true);
    ws.async_write(net::buffer(data), std::forward<H>(h));
  }
  template <class H>
  void End(int code, H&& h) {
    ws.async_close(websocket::close_reason(static_cast<websocket::close_code>(code)), std::forward<H>(h));
  }
};

template <class S>
struct RawTransport {
  S stream;
  explicit RawTransport(S&& s) : stream(std::move(s)) {}
  PlainStream& lowest() { return beast::get_lowest_layer(stream); }
  template <class H>
  void Read(beast::flat_buffer& in, H&& h) {
    stream.async_read_some(in.prepare(64 * 1024), [&in, h = std::forward<H>(h)](beast::error_code ec, size_t n) mutable {
      in.commit(n);
      h(ec, n);
    });
  }
  template <class H>
  void Write(const std::string& data, H&& h) { net::async_write(stream, net::buffer(data), std::forward<H>(h)); }
  template <class H>
  void End(int, H&& h) {
    boost::system::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    h(ignored);
  }
};

template <class Transport>
class DuplexSession final : public Duplex, public Session,
                            public std::enable_shared_from_this<DuplexSession<Transport>> {
 public:
  DuplexSession(Shared& shared, Executor executor) : shared_(shared), executor_(std::move(executor)) {}
  ~DuplexSession() override { shared_.Untrack(this); }

  // Strand: the HTTP session moves its stream in (then finishes the handshake on it) ...
  template <class S>
  Transport& Emplace(S&& stream) {
    transport_.emplace(std::move(stream));
    return *transport_;
  }

  // ... and hands over the connection.
  void Attach(std::shared_ptr<Slot> slot, std::string leftover) {
    slot_ = std::move(slot);
    attached_ = true;
    if (!leftover.empty()) {
      std::string copy = std::move(leftover);
      pending_in_.push_back(std::move(copy));
    }
    shared_.Track(this, this->shared_from_this());
    Pump();
  }

  // Strand: the handshake failed or the client left before the handover.
  void Abandon() { Finish(); }

  void Start(DuplexCallbacks callbacks) override {
    auto self = this->shared_from_this();
    net::post(executor_, [self, callbacks = std::move(callbacks)]() mutable {
      self->callbacks_ = std::move(callbacks);
      self->started_ = true;
      if (self->finished_) {
        self->RunClosed();
        return;
      }
      self->Pump();
    });
  }

  bool Send(std::string data) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_ || finished_flag_) return false;
      if (backlog_ + data.size() > shared_.options.max_stream_backlog) {
        aborted_ = closing_ = true;
        queue_.clear();
      } else {
        backlog_ += data.size();
        queue_.push_back(std::move(data));
      }
    }
    Kick();
    return true;
  }

  void Close(int code) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      closing_ = true;
      close_code_ = code;
    }
    Kick();
  }

  void PauseReading(bool paused) override {
    auto self = this->shared_from_this();
    net::post(executor_, [self, paused] {
      self->paused_ = paused;
      self->Pump();
    });
  }

  size_t Pending() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return backlog_;
  }

  bool Closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return closing_ || finished_flag_;
  }

  void Shutdown() override { Close(1001); }

 private:
  void Kick() {
    auto self = this->shared_from_this();
    net::post(executor_, [self] { self->Pump(); });
  }

  // Strand: deliver what was read, start the next read, start the next write.
  void Pump() {
    if (finished_ || !attached_) return;
    if (started_) {
      while (!pending_in_.empty() && !paused_) {
        std::string msg = std::move(pending_in_.front());
        pending_in_.pop_front();
        if (callbacks_.on_message) callbacks_.on_message(std::move(msg));
      }
      if (!reading_ && !paused_ && !read_ended_) ReadNext();
    }
    if (writing_) return;
    std::string next;
    bool end = false, aborted = false;
    int code = 1000;
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted = aborted_;
      if (!queue_.empty()) {
        next = std::move(queue_.front());
        queue_.pop_front();
      } else {
        end = closing_;
        code = close_code_;
      }
    }
    if (aborted) {
      CloseSocket(transport_->lowest());
      Finish();
      return;
    }
    if (!next.empty()) {
      writing_ = true;
      out_ = std::move(next);
      auto self = this->shared_from_this();
      transport_->Write(out_, [self](beast::error_code ec, size_t) {
        self->writing_ = false;
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          self->backlog_ -= std::min(self->backlog_, self->out_.size());
        }
        if (ec) return self->Finish();
        self->Pump();
      });
      return;
    }
    if (end && !ending_) {
      ending_ = true;
      writing_ = true;
      auto self = this->shared_from_this();
      transport_->End(code, [self](beast::error_code) {
        self->writing_ = false;
        // Give the peer a moment to answer the close; the read loop ends on its reply.
        if (self->read_ended_ || !self->started_) {
          CloseSocket(self->transport_->lowest());
          self->Finish();
        }
      });
    }
  }

  void ReadNext() {
    reading_ = true;
    auto self = this->shared_from_this();
    transport_->Read(in_, [self](beast::error_code ec, size_t) {
      self->reading_ = false;
      if (ec) {
        self->read_ended_ = true;
        CloseSocket(self->transport_->lowest());
        self->Finish();
        return;
      }
      self->pending_in_.push_back(beast::buffers_to_string(self->in_.data()));
      self->in_.consume(self->in_.size());
      self->Pump();
    });
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_flag_ = closing_ = true;
      queue_.clear();
      backlog_ = 0;
    }
    if (started_) RunClosed();
  }

  void RunClosed() {
    auto cb = std::move(callbacks_.on_closed);
    callbacks_ = {};
    if (cb) cb();
    slot_.reset();
  }

  Shared& shared_;
  Executor executor_;
  std::shared_ptr<Slot> slot_;
  std::optional<Transport> transport_;
  DuplexCallbacks callbacks_;
  beast::flat_buffer in_;
  std::deque<std::string> pending_in_;
  std::string out_;
  // Strand-only state.
  bool attached_ = false, started_ = false, paused_ = false, reading_ = false, writing_ = false;
  bool read_ended_ = false, ending_ = false, finished_ = false;
  // Shared with callers of Send/Close.
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  size_t backlog_ = 0;
  bool closing_ = false, aborted_ = false, finished_flag_ = false;
  int close_code_ = 1000;
};

}  // namespace berth::http::internal
