#pragma once
// File: kubelet-like-agent/init/log_writer.h
// Writes a container's output in the CRI log format the kubelet uses
// ("2024-01-01T00:00:00.000000000Z stdout F text"; "P" marks a partial line cut at 16 KiB),
// rotating the file to `<path>.1` once it passes `max_bytes`. Single-threaded (the init's loop).
// The first Open holds on to the log's directory: the init rotates from inside the container's
// root, where the host path no longer resolves.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace berth::agent {

class LogWriter {
 public:
  LogWriter(std::string path, int64_t max_bytes) : path_(std::move(path)), max_bytes_(max_bytes) {}
  ~LogWriter();
  bool Open();
  // Only the directory, for an Open later from where its path no longer resolves.
  bool OpenDirectory();
  // Appends `data` from `stream` ("stdout"/"stderr"); complete lines are written at once.
  void Write(const std::string& stream, std::string_view data, const std::string& timestamp);
  // Writes a pending partial line (stream closed).
  void Flush(const std::string& stream, const std::string& timestamp);

 private:
  void Emit(const std::string& stream, std::string_view line, bool partial, const std::string& timestamp);

  const std::string path_;
  const int64_t max_bytes_;
  int fd_ = -1;
  int dir_fd_ = -1;   // the directory of path_ (O_PATH), opened once
  std::string name_;  // path_'s last component
  int64_t size_ = 0;
  std::map<std::string, std::string> pending_;  // per stream: text after the last newline
};

// Parses one CRI log line; false if malformed.
struct LogLine {
  std::string_view timestamp, stream, text;
  bool partial = false;
};
bool ParseLogLine(std::string_view line, LogLine& out);

}  // namespace berth::agent
