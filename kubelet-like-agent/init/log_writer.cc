#include "kubelet-like-agent/init/log_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace berth::agent {
namespace {
constexpr size_t kMaxLine = 16 * 1024;
}  // namespace

LogWriter::~LogWriter() {
  if (fd_ >= 0) close(fd_);
  if (dir_fd_ >= 0) close(dir_fd_);
}

bool LogWriter::OpenDirectory() {
  if (dir_fd_ >= 0) return true;
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  name_ = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  dir_fd_ = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  return dir_fd_ >= 0;
}

bool LogWriter::Open() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (!OpenDirectory()) return false;
  fd_ = openat(dir_fd_, name_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return false;
  struct stat st;
  size_ = fstat(fd_, &st) == 0 ? st.st_size : 0;
  return true;
}

void LogWriter::Emit(const std::string& stream, std::string_view line, bool partial, const std::string& timestamp) {
  if (max_bytes_ > 0 && size_ >= max_bytes_) {
    renameat(dir_fd_, name_.c_str(), dir_fd_, (name_ + ".1").c_str());
    Open();
  }
  std::string out;
  out.reserve(timestamp.size() + stream.size() + line.size() + 5);
  out.append(timestamp).append(" ").append(stream).append(partial ? " P " : " F ").append(line).append("\n");
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = write(fd_, out.data() + done, out.size() - done);
    if (n <= 0) return;  // disk full: dropping output beats blocking the container
    done += static_cast<size_t>(n);
  }
  size_ += static_cast<int64_t>(out.size());
}

void LogWriter::Write(const std::string& stream, std::string_view data, const std::string& timestamp) {
  std::string& pending = pending_[stream];
  pending.append(data);
  size_t start = 0;
  while (true) {
    size_t nl = pending.find('\n', start);
    if (nl == std::string::npos) break;
    Emit(stream, std::string_view(pending).substr(start, nl - start), false, timestamp);
    start = nl + 1;
  }
  pending.erase(0, start);
  while (pending.size() >= kMaxLine) {
    Emit(stream, std::string_view(pending).substr(0, kMaxLine), true, timestamp);
    pending.erase(0, kMaxLine);
  }
}

void LogWriter::Flush(const std::string& stream, const std::string& timestamp) {
  std::string& pending = pending_[stream];
  if (!pending.empty()) Emit(stream, pending, false, timestamp);
  pending.clear();
}

bool ParseLogLine(std::string_view line, LogLine& out) {
  size_t a = line.find(' ');
  if (a == std::string_view::npos) return false;
  size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos || b + 2 > line.size()) return false;
  out.timestamp = line.substr(0, a);
  out.stream = line.substr(a + 1, b - a - 1);
  out.partial = line[b + 1] == 'P';
  out.text = b + 3 <= line.size() ? line.substr(b + 3) : std::string_view();
  if (!out.text.empty() && out.text.back() == '\n') out.text.remove_suffix(1);
  return true;
}

}  // namespace berth::agent
