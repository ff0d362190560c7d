// libFuzzer target: the parsers of what exec, attach and port-forward clients send the agent:
// SPDY/3.1 frames (with compressed header blocks), channel messages in every framing, and
// terminal sizes. Nothing may crash, hang or grow without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "kubelet-like-agent/streaming/remote_command.h"
#include "kubelet-like-agent/streaming/spdy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::agent::streaming;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  {
    SpdyCodec codec;
    std::vector<SpdyFrame> frames;
    // Split the input the way a network would: the first byte picks a chunk size.
    size_t step = size > 0 ? 1 + data[0] % 64 : 1;
    for (size_t at = 0; at < input.size(); at += step) {
      if (!codec.Feed(input.substr(at, step), frames).ok()) break;
    }
    for (const SpdyFrame& f : frames) (void)f.Header("streamtype");
  }
  for (bool base64 : {false, true}) {
    RemoteCommandProtocol p{"", 5, base64};
    auto m = DecodeChannelMessage(p, input);
    if (m.ok() && m->channel == kResize) (void)ParseTerminalSize(m->data);
  }
  (void)ParseTerminalSize(input);
  (void)NegotiateRemoteCommand(input);
  return 0;
}
