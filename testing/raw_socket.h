#pragma once
// File: testing/raw_socket.h
// A blocking TCP client (optionally TLS) for tests that must send what no HTTP library would:
// broken framing, half requests, unread responses, hand-made WebSocket frames.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace berth::testing {

class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawSocket() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  // Upgrades to TLS, trusting `ca_file`; presents cert/key when given. False if the handshake fails.
  bool StartTls(const std::string& ca_file, const std::string& cert_file = "", const std::string& key_file = "") {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!cert_file.empty()) {
      SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    if (SSL_connect(ssl_) != 1) return false;
    // TLS 1.3 sends the server's verdict on a client certificate after the handshake: a
    // zero-length read makes it arrive before the first request.
    return true;
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                                  : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads what arrives within `wait` (at least one byte unless the peer closed or time ran out).
  // Sets closed() when the peer ended the connection.
  std::string ReadSome(std::chrono::milliseconds wait = std::chrono::milliseconds(5000)) {
    if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return "";
    }
    char buf[65536];
    ssize_t n = ssl_ != nullptr ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return "";
    }
    return std::string(buf, static_cast<size_t>(n));
  }

  // Reads until `needle` appears in what was read, the peer closes, or `wait` passes.
  std::string ReadUntil(std::string_view needle, std::chrono::milliseconds wait = std::chrono::milliseconds(5000)) {
    auto until = std::chrono::steady_clock::now() + wait;
    while (buffer_.find(needle) == std::string::npos && !closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      buffer_ += ReadSome(left);
    }
    size_t at = buffer_.find(needle);
    std::string out;
    if (at == std::string::npos) {
      out.swap(buffer_);
    } else {
      out = buffer_.substr(0, at + needle.size());
      buffer_.erase(0, at + needle.size());
    }
    return out;
  }

  // Reads exactly `n` bytes (fewer if the peer closes or time runs out).
  std::string ReadExactly(size_t n, std::chrono::milliseconds wait = std::chrono::milliseconds(5000)) {
    auto until = std::chrono::steady_clock::now() + wait;
    while (buffer_.size() < n && !closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      buffer_ += ReadSome(left);
    }
    std::string out = buffer_.substr(0, std::min(n, buffer_.size()));
    buffer_.erase(0, out.size());
    return out;
  }

  // True when the peer closes within `wait` (whatever it sent first is discarded).
  bool WaitClosed(std::chrono::milliseconds wait = std::chrono::milliseconds(5000)) {
    auto until = std::chrono::steady_clock::now() + wait;
    while (!closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      ReadSome(left);
    }
    return true;
  }

  bool closed() const { return closed_; }

  // A client WebSocket frame (always masked, as RFC 6455 requires of clients).
  static std::string ClientFrame(uint8_t opcode, std::string_view payload, bool fin = true) {
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
    if (payload.size() < 126) {
      f.push_back(static_cast<char>(0x80 | payload.size()));
    } else if (payload.size() < 65536) {
      f.push_back(static_cast<char>(0x80 | 126));
      f.push_back(static_cast<char>(payload.size() >> 8));
      f.push_back(static_cast<char>(payload.size() & 0xff));
    } else {
      f.push_back(static_cast<char>(0x80 | 127));
      for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<uint64_t>(payload.size()) >> (8 * i)) & 0xff));
    }
    static std::mt19937 rng(42);
    char mask[4];
    for (char& m : mask) m = static_cast<char>(rng());
    f.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    return f;
  }

  // Reads one server frame (unmasked): opcode and payload; opcode -1 if none arrived.
  std::pair<int, std::string> ReadFrame(std::chrono::milliseconds wait = std::chrono::milliseconds(5000)) {
    std::string h = ReadExactly(2, wait);
    if (h.size() < 2) return {-1, ""};
    int opcode = static_cast<uint8_t>(h[0]) & 0x0f;
    uint64_t len = static_cast<uint8_t>(h[1]) & 0x7f;
    if (len == 126) {
      std::string e = ReadExactly(2, wait);
      len = (static_cast<uint64_t>(static_cast<uint8_t>(e[0])) << 8) | static_cast<uint8_t>(e[1]);
    } else if (len == 127) {
      std::string e = ReadExactly(8, wait);
      len = 0;
      for (char c : e) len = (len << 8) | static_cast<uint8_t>(c);
    }
    return {opcode, ReadExactly(static_cast<size_t>(len), wait)};
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buffer_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace berth::testing
