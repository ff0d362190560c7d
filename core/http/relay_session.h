#pragma once
// File: core/http/relay_session.h
// An upgraded connection spliced to another server (exec and port-forward to the agent).

#include <array>
#include <memory>
#include <string>

#include "core/http/beast_common.h"

namespace berth::http::internal {

template <class S, class U>
class RelaySession final : public Session, public std::enable_shared_from_this<RelaySession<S, U>> {
 public:
  RelaySession(Shared& shared, std::shared_ptr<Slot> slot, S&& client, U&& upstream)
      : shared_(shared), slot_(std::move(slot)), client_(std::move(client)), upstream_(std::move(upstream)) {}
  ~RelaySession() override { shared_.Untrack(this); }

  void Start(std::string first) {
    shared_.Track(this, this->shared_from_this());
    Lowest(client_).expires_never();
    Lowest(upstream_).expires_never();
    first_ = std::move(first);
    auto self = this->shared_from_this();
    net::async_write(upstream_, net::buffer(first_), [self](beast::error_code ec, size_t) {
      if (ec) return self->End();
      self->Pump(self->client_, self->upstream_, self->from_client_);
      self->Pump(self->upstream_, self->client_, self->from_upstream_);
    });
  }

  void Shutdown() override {
    auto self = this->shared_from_this();
    net::post(Lowest(client_).get_executor(), [self] { self->End(); });
  }

 private:
  template <class From, class To>
  void Pump(From& from, To& to, std::array<char, 32 * 1024>& buf) {
    auto self = this->shared_from_this();
    from.async_read_some(net::buffer(buf), [self, &from, &to, &buf](beast::error_code ec, size_t n) {
      if (ec) return self->End();
      net::async_write(to, net::buffer(buf.data(), n), [self, &from, &to, &buf](beast::error_code wec, size_t) {
        if (wec) return self->End();
        self->Pump(from, to, buf);
      });
    });
  }

  void End() {
    if (ended_) return;
    ended_ = true;
    CloseSocket(Lowest(client_));
    CloseSocket(Lowest(upstream_));
  }

  Shared& shared_;
  std::shared_ptr<Slot> slot_;
  S client_;
  U upstream_;
  std::string first_;
  std::array<char, 32 * 1024> from_client_{}, from_upstream_{};
  bool ended_ = false;
};

}  // namespace berth::http::internal
