#pragma once
// File: kubelet-like-agent/streaming/remote_command.h
// The channel protocol of exec and attach over WebSocket, as client-go's remotecommand and the
// Python client's ws_client speak it: each binary message starts with a channel byte (0 stdin,
// 1 stdout, 2 stderr, 3 error, 4 resize, and in v5 255 "close": [255, channel] ends that
// channel's input). The base64 variants send text messages: an ASCII digit channel and base64
// data. The error channel carries the outcome once: text in v1-v3, a Status object from v4 on
// (kubectl turns reason NonZeroExitCode into "command terminated with exit code N").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent::streaming {

inline constexpr uint8_t kStdin = 0, kStdout = 1, kStderr = 2, kErrorChannel = 3, kResize = 4, kCloseChannel = 255;

struct RemoteCommandProtocol {
  std::string name;  // as negotiated, "" when the client offered none (then v1)
  int version = 1;   // 1..5
  bool base64 = false;
};

// The protocol to answer with from the client's Sec-WebSocket-Protocol offer, in the client's
// order of preference; nullopt when it offers only protocols this server does not speak.
std::optional<RemoteCommandProtocol> NegotiateRemoteCommand(std::string_view offered);

struct ChannelMessage {
  uint8_t channel = 0;
  std::string data;
};

std::string EncodeChannelMessage(const RemoteCommandProtocol& p, uint8_t channel, std::string_view data);
// InvalidArgument for an empty message, a bad channel digit or bad base64.
absl::StatusOr<ChannelMessage> DecodeChannelMessage(const RemoteCommandProtocol& p, std::string_view message);

// The error channel's payload for a command that ended with `exit_code` ("" for success in v1-v3).
std::string ExitStatusPayload(const RemoteCommandProtocol& p, int exit_code, const std::vector<std::string>& argv);
// ... and for a command that could not run (or a session that failed): `reason` is a
// Kubernetes Status reason (InternalError, NotFound, BadRequest).
std::string ErrorStatusPayload(const RemoteCommandProtocol& p, std::string_view reason, std::string_view message);

// The resize channel's {"Width":W,"Height":H}.
absl::StatusOr<std::pair<uint16_t, uint16_t>> ParseTerminalSize(std::string_view json);

}  // namespace berth::agent::streaming
