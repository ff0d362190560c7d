#pragma once
// File: kubelet-like-agent/streaming/spdy.h
// SPDY/3.1 framing, the server side of what kubectl port-forward speaks (moby/spdystream, over a
// plain "Upgrade: SPDY/3.1" or tunnelled in WebSocket binary messages per KEP-4006). Control
// frames: 1 bit control, 15 bits version (3), 16 bits type, 8 bits flags, 24 bits length. Data
// frames: 1 bit 0, 31 bits stream id, flags, length. Header blocks are zlib-compressed with the
// spec's dictionary, one compression stream per direction for the whole session.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace berth::agent::streaming {

enum class SpdyFrameType { kData, kSynStream, kSynReply, kRstStream, kSettings, kPing, kGoAway, kHeaders, kWindowUpdate, kUnknown };

inline constexpr uint8_t kSpdyFlagFin = 0x01;

struct SpdyFrame {
  SpdyFrameType type = SpdyFrameType::kUnknown;
  uint32_t stream_id = 0;   // data, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE
  uint8_t flags = 0;
  std::string data;         // DATA payload
  std::vector<std::pair<std::string, std::string>> headers;  // SYN_STREAM, SYN_REPLY, HEADERS
  uint32_t value = 0;       // PING id, RST_STREAM/GOAWAY status
  bool fin() const { return (flags & kSpdyFlagFin) != 0; }
  std::string Header(std::string_view name) const;
};

// The 1,423-byte dictionary of SPDY/3 header compression (draft 3, section 2.6.10.1).
const std::string& SpdyHeaderDictionary();

class SpdyCodec {
 public:
  SpdyCodec();
  ~SpdyCodec();
  SpdyCodec(const SpdyCodec&) = delete;
  SpdyCodec& operator=(const SpdyCodec&) = delete;

  // Appends bytes from the peer and moves the frames they complete into `out`. An error (bad
  // version, a frame over the size limit, a header block that does not decompress) ends the
  // session: nothing after it can be trusted.
  absl::Status Feed(std::string_view bytes, std::vector<SpdyFrame>& out);

  std::string SynReply(uint32_t stream_id, const std::vector<std::pair<std::string, std::string>>& headers, bool fin);
  static std::string Data(uint32_t stream_id, std::string_view data, bool fin);
  static std::string RstStream(uint32_t stream_id, uint32_t status);
  static std::string Ping(uint32_t id);
  static std::string GoAway(uint32_t last_good_stream, uint32_t status);

  // Largest frame accepted: spdystream writes data in 32 KiB pieces.
  static constexpr size_t kMaxFrameBytes = 1 << 20;

 private:
  absl::Status ParseControl(uint16_t type, uint8_t flags, std::string_view body, std::vector<SpdyFrame>& out);
  absl::Status DecodeHeaders(std::string_view compressed, std::vector<std::pair<std::string, std::string>>& out);

  struct Zlib;
  std::unique_ptr<Zlib> zlib_;
  std::string pending_;
};

}  // namespace berth::agent::streaming
