#include "kubelet-like-agent/streaming/remote_command.h"

#include "absl/strings/escaping.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::agent::streaming {
namespace {

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::optional<RemoteCommandProtocol> Known(const std::string& name) {
  if (name == "v5.channel.k8s.io") return RemoteCommandProtocol{name, 5, false};
  if (name == "v4.channel.k8s.io") return RemoteCommandProtocol{name, 4, false};
  if (name == "v4.base64.channel.k8s.io") return RemoteCommandProtocol{name, 4, true};
  if (name == "channel.k8s.io") return RemoteCommandProtocol{name, 1, false};
  if (name == "base64.channel.k8s.io") return RemoteCommandProtocol{name, 1, true};
  return std::nullopt;
}

}  // namespace

std::optional<RemoteCommandProtocol> NegotiateRemoteCommand(std::string_view offered) {
  if (Trim(offered).empty()) return RemoteCommandProtocol{"", 1, false};
  for (std::string_view part : Split(offered, ',')) {
    if (auto p = Known(Trim(part))) return p;
  }
  return std::nullopt;
}

std::string EncodeChannelMessage(const RemoteCommandProtocol& p, uint8_t channel, std::string_view data) {
  std::string out;
  if (p.base64) {
    out.push_back(static_cast<char>('0' + channel));
    out += absl::Base64Escape(absl::string_view(data.data(), data.size()));
  } else {
    out.reserve(data.size() + 1);
    out.push_back(static_cast<char>(channel));
    out.append(data);
  }
  return out;
}

absl::StatusOr<ChannelMessage> DecodeChannelMessage(const RemoteCommandProtocol& p, std::string_view message) {
  if (message.empty()) return absl::InvalidArgumentError("empty channel message");
  ChannelMessage m;
  if (p.base64) {
    char c = message[0];
    if (c < '0' || c > '9') return absl::InvalidArgumentError("base64 channel message without a channel digit");
    m.channel = static_cast<uint8_t>(c - '0');
    if (!absl::Base64Unescape(absl::string_view(message.data() + 1, message.size() - 1), &m.data)) {
      return absl::InvalidArgumentError("channel message is not valid base64");
    }
    return m;
  }
  m.channel = static_cast<uint8_t>(message[0]);
  m.data.assign(message.substr(1));
  return m;
}

std::string ExitStatusPayload(const RemoteCommandProtocol& p, int exit_code, const std::vector<std::string>& argv) {
  if (p.version < 4) return exit_code == 0 ? "" : StrCat("command terminated with non-zero exit code: exit code ", exit_code);
  if (exit_code == 0) return R"({"metadata":{},"status":"Success"})";
  std::string message = StrCat("command terminated with non-zero exit code: error executing command [",
                               Join(argv, " "), "], exit code ", exit_code);
  return StrCat(R"({"metadata":{},"status":"Failure","message":)", json::Quote(message),
                R"(,"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":")", exit_code,
                R"("}]}})");
}

std::string ErrorStatusPayload(const RemoteCommandProtocol& p, std::string_view reason, std::string_view message) {
  if (p.version < 4) return std::string(message);
  return StrCat(R"({"metadata":{},"status":"Failure","message":)", json::Quote(message), R"(,"reason":)",
                json::Quote(reason), "}");
}

absl::StatusOr<std::pair<uint16_t, uint16_t>> ParseTerminalSize(std::string_view text) {
  auto v = json::Parse(text);
  if (!v.ok() || !v->is_object()) return absl::InvalidArgumentError("resize message is not a JSON object");
  const json::Value* w = v->Find("Width");
  const json::Value* h = v->Find("Height");
  if (w == nullptr || h == nullptr || !w->is_int() || !h->is_int() || w->as_int() < 0 || h->as_int() < 0 ||
      w->as_int() > 65535 || h->as_int() > 65535) {
    return absl::InvalidArgumentError("resize message needs Width and Height between 0 and 65535");
  }
  return std::make_pair(static_cast<uint16_t>(w->as_int()), static_cast<uint16_t>(h->as_int()));
}

}  // namespace berth::agent::streaming
