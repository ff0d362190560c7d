#include "kubelet-like-agent/streaming/spdy.h"

#include <zlib.h>

#include "core/strings/strings.h"

namespace berth::agent::streaming {
namespace {

constexpr uint16_t kVersion = 3;

uint32_t Be32(std::string_view s, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) | static_cast<uint8_t>(s[at + 3]);
}

void PutBe32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string ControlHeader(uint16_t type, uint8_t flags, size_t length) {
  std::string out;
  out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(static_cast<char>(type >> 8));
  out.push_back(static_cast<char>(type & 0xff));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>((length >> 16) & 0xff));
  out.push_back(static_cast<char>((length >> 8) & 0xff));
  out.push_back(static_cast<char>(length & 0xff));
  return out;
}

}  // namespace

const std::string& SpdyHeaderDictionary() {
  static const std::string dictionary = [] {
    // Length-prefixed header names and common values, then a run of common value fragments.
    static const char* const kWords[] = {
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
        "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
        "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
        "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
        "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
        "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
        "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
        "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
        "set-cookie", "keep-alive", "origin"};
    std::string d;
    for (const char* w : kWords) {
      PutBe32(d, static_cast<uint32_t>(std::string_view(w).size()));
      d += w;
    }
    d += "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    return d;
  }();
  return dictionary;
}

std::string SpdyFrame::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

struct SpdyCodec::Zlib {
  z_stream inflate{};
  z_stream deflate{};
  bool inflate_ok = false, deflate_ok = false;
  Zlib() { inflate_ok = inflateInit(&inflate) == Z_OK; }
  // The compressor (about 256 KiB) is made with the first reply, not with every session.
  z_stream& Deflater() {
    if (!deflate_ok) {
      deflate_ok = deflateInit(&deflate, Z_DEFAULT_COMPRESSION) == Z_OK;
      const std::string& d = SpdyHeaderDictionary();
      if (deflate_ok) deflateSetDictionary(&deflate, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
    }
    return deflate;
  }
  ~Zlib() {
    if (inflate_ok) inflateEnd(&inflate);
    if (deflate_ok) deflateEnd(&deflate);
  }
};

SpdyCodec::SpdyCodec() : zlib_(std::make_unique<Zlib>()) {}
SpdyCodec::~SpdyCodec() = default;

absl::Status SpdyCodec::DecodeHeaders(std::string_view compressed, std::vector<std::pair<std::string, std::string>>& out) {
  z_stream& z = zlib_->inflate;
  std::string plain;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  char buf[4096];
  while (z.avail_in > 0) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = ::inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const std::string& d = SpdyHeaderDictionary();
      if (inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())) != Z_OK) {
        return absl::InvalidArgumentError("SPDY header block: wrong compression dictionary");
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::InvalidArgumentError(StrCat("SPDY header block does not decompress: ", z.msg ? z.msg : "zlib error"));
    }
    plain.append(buf, sizeof buf - z.avail_out);
    if (plain.size() > 64 * 1024) return absl::InvalidArgumentError("SPDY header block over 64 KiB");
    if (rc == Z_BUF_ERROR && z.avail_out != 0) break;
  }
  // count, then (name length, name, value length, value) pairs
  if (plain.size() < 4) return absl::InvalidArgumentError("SPDY header block too short");
  uint32_t count = Be32(plain, 0);
  size_t at = 4;
  for (uint32_t i = 0; i < count; ++i) {
    std::string parts[2];
    for (std::string& part : parts) {
      if (at + 4 > plain.size()) return absl::InvalidArgumentError("SPDY header block truncated");
      uint32_t len = Be32(plain, at);
      at += 4;
      if (len > plain.size() - at) return absl::InvalidArgumentError("SPDY header block truncated");
      part.assign(plain, at, len);
      at += len;
    }
    out.emplace_back(std::move(parts[0]), std::move(parts[1]));
  }
  return absl::OkStatus();
}

absl::Status SpdyCodec::ParseControl(uint16_t type, uint8_t flags, std::string_view body, std::vector<SpdyFrame>& out) {
  SpdyFrame f;
  f.flags = flags;
  auto need = [&](size_t n) {
    return body.size() >= n ? absl::OkStatus() : absl::InvalidArgumentError(StrCat("SPDY control frame ", type, " too short"));
  };
  switch (type) {
    case 1:  // SYN_STREAM: stream id, associated id, priority and slot, header block
      if (absl::Status s = need(10); !s.ok()) return s;
      f.type = SpdyFrameType::kSynStream;
      f.stream_id = Be32(body, 0) & 0x7fffffff;
      if (absl::Status s = DecodeHeaders(body.substr(10), f.headers); !s.ok()) return s;
      break;
    case 2:  // SYN_REPLY
      if (absl::Status s = need(4); !s.ok()) return s;
      f.type = SpdyFrameType::kSynReply;
      f.stream_id = Be32(body, 0) & 0x7fffffff;
      if (absl::Status s = DecodeHeaders(body.substr(4), f.headers); !s.ok()) return s;
      break;
    case 3:  // RST_STREAM
      if (absl::Status s = need(8); !s.ok()) return s;
      f.type = SpdyFrameType::kRstStream;
      f.stream_id = Be32(body, 0) & 0x7fffffff;
      f.value = Be32(body, 4);
      break;
    case 4:
      f.type = SpdyFrameType::kSettings;
      break;
    case 6:  // PING
      if (absl::Status s = need(4); !s.ok()) return s;
      f.type = SpdyFrameType::kPing;
      f.value = Be32(body, 0);
      break;
    case 7:  // GOAWAY
      if (absl::Status s = need(8); !s.ok()) return s;
      f.type = SpdyFrameType::kGoAway;
      f.stream_id = Be32(body, 0) & 0x7fffffff;
      f.value = Be32(body, 4);
      break;
    case 8:  // HEADERS
      if (absl::Status s = need(4); !s.ok()) return s;
      f.type = SpdyFrameType::kHeaders;
      f.stream_id = Be32(body, 0) & 0x7fffffff;
      if (absl::Status s = DecodeHeaders(body.substr(4), f.headers); !s.ok()) return s;
      break;
    case 9:  // WINDOW_UPDATE
      if (absl::Status s = need(8); !s.ok()) return s;
      f.type = SpdyFrameType::kWindowUpdate;
      f.stream_id = Be32(body, 0) & 0x7fffffff;
      f.value = Be32(body, 4) & 0x7fffffff;
      break;
    default:
      f.type = SpdyFrameType::kUnknown;  // ignored, as the spec asks of unknown control frames
      break;
  }
  out.push_back(std::move(f));
  return absl::OkStatus();
}

absl::Status SpdyCodec::Feed(std::string_view bytes, std::vector<SpdyFrame>& out) {
  pending_.append(bytes);
  size_t at = 0;
  absl::Status status;
  while (pending_.size() - at >= 8) {
    std::string_view head(pending_.data() + at, 8);
    uint32_t length = (static_cast<uint32_t>(static_cast<uint8_t>(head[5])) << 16) |
                      (static_cast<uint32_t>(static_cast<uint8_t>(head[6])) << 8) | static_cast<uint8_t>(head[7]);
    if (length > kMaxFrameBytes) {
      status = absl::InvalidArgumentError(StrCat("SPDY frame of ", length, " bytes is over the limit"));
      break;
    }
    if (pending_.size() - at - 8 < length) break;
    std::string_view body(pending_.data() + at + 8, length);
    uint8_t flags = static_cast<uint8_t>(head[4]);
    if (static_cast<uint8_t>(head[0]) & 0x80) {
      uint16_t version = static_cast<uint16_t>(((static_cast<uint8_t>(head[0]) & 0x7f) << 8) | static_cast<uint8_t>(head[1]));
      if (version != kVersion) {
        status = absl::InvalidArgumentError(StrCat("SPDY version ", version, " is not supported (only 3)"));
        break;
      }
      uint16_t type = static_cast<uint16_t>((static_cast<uint8_t>(head[2]) << 8) | static_cast<uint8_t>(head[3]));
      status = ParseControl(type, flags, body, out);
      if (!status.ok()) break;
    } else {
      SpdyFrame f;
      f.type = SpdyFrameType::kData;
      f.stream_id = Be32(head, 0) & 0x7fffffff;
      f.flags = flags;
      f.data.assign(body);
      out.push_back(std::move(f));
    }
    at += 8 + length;
  }
  pending_.erase(0, at);
  return status;
}

std::string SpdyCodec::SynReply(uint32_t stream_id, const std::vector<std::pair<std::string, std::string>>& headers, bool fin) {
  std::string plain;
  PutBe32(plain, static_cast<uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    PutBe32(plain, static_cast<uint32_t>(k.size()));
    plain += k;
    PutBe32(plain, static_cast<uint32_t>(v.size()));
    plain += v;
  }
  z_stream& z = zlib_->Deflater();
  std::string compressed;
  z.next_in = reinterpret_cast<Bytef*>(plain.data());
  z.avail_in = static_cast<uInt>(plain.size());
  char buf[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    ::deflate(&z, Z_SYNC_FLUSH);
    compressed.append(buf, sizeof buf - z.avail_out);
  } while (z.avail_out == 0);
  std::string body;
  PutBe32(body, stream_id & 0x7fffffff);
  body += compressed;
  return ControlHeader(2, fin ? kSpdyFlagFin : 0, body.size()) + body;
}

std::string SpdyCodec::Data(uint32_t stream_id, std::string_view data, bool fin) {
  std::string out;
  out.reserve(8 + data.size());
  PutBe32(out, stream_id & 0x7fffffff);
  out.push_back(static_cast<char>(fin ? kSpdyFlagFin : 0));
  out.push_back(static_cast<char>((data.size() >> 16) & 0xff));
  out.push_back(static_cast<char>((data.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(data.size() & 0xff));
  out.append(data);
  return out;
}

std::string SpdyCodec::RstStream(uint32_t stream_id, uint32_t status) {
  std::string body;
  PutBe32(body, stream_id & 0x7fffffff);
  PutBe32(body, status);
  return ControlHeader(3, 0, body.size()) + body;
}

std::string SpdyCodec::Ping(uint32_t id) {
  std::string body;
  PutBe32(body, id);
  return ControlHeader(6, 0, body.size()) + body;
}

std::string SpdyCodec::GoAway(uint32_t last_good_stream, uint32_t status) {
  std::string body;
  PutBe32(body, last_good_stream & 0x7fffffff);
  PutBe32(body, status);
  return ControlHeader(7, 0, body.size()) + body;
}

}  // namespace berth::agent::streaming
