#include "kubelet-like-agent/sync/termination_message.h"

#include <deque>
#include <fstream>

namespace berth::agent {

std::string LogTail(const std::string& log_path, int max_lines, size_t max_bytes) {
  std::ifstream f(log_path);
  std::deque<std::string> lines;
  std::string line, partial;
  while (std::getline(f, line)) {
    // "<RFC3339Nano> <stream> <F|P> <content>": P(artial) lines continue in the next one.
    size_t a = line.find(' '), b = a == std::string::npos ? a : line.find(' ', a + 1);
    size_t c = b == std::string::npos ? b : line.find(' ', b + 1);
    if (c == std::string::npos) continue;
    std::string tag = line.substr(b + 1, c - b - 1);
    partial += line.substr(c + 1);
    if (tag == "P") continue;
    lines.push_back(std::move(partial));
    partial.clear();
    if (static_cast<int>(lines.size()) > max_lines) lines.pop_front();
  }
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  if (out.size() > max_bytes) out = out.substr(out.size() - max_bytes);
  return out;
}

std::string TerminationMessage(const json::Value& container, const std::string& message_file,
                               const runtime::ContainerStatus& ended) {
  constexpr size_t kMaxMessage = 4096;
  std::string message;
  if (!message_file.empty()) {
    std::ifstream f(message_file, std::ios::binary);
    message.resize(kMaxMessage);
    f.read(message.data(), static_cast<std::streamsize>(kMaxMessage));
    message.resize(static_cast<size_t>(f.gcount()));
  }
  if (message.empty() && ended.exit_code != 0 &&
      container.GetString({"terminationMessagePolicy"}) == "FallbackToLogsOnError") {
    message = LogTail(ended.log_path, 80, 2048);
  }
  return message;
}

}  // namespace berth::agent
