#include "apiserver/audit/audit_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/log/log.h"
#include "core/strings/strings.h"
#include "core/concurrency/thread_name.h"

namespace berth::apiserver::audit {
namespace {

namespace fs = std::filesystem;

// "dir/audit.log" -> {"dir/audit", ".log"}
std::pair<std::string, std::string> StemAndExtension(const std::string& path) {
  fs::path p(path);
  return {(p.parent_path() / p.stem()).string(), p.extension().string()};
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditFile>> AuditFile::Open(AuditFileOptions options, const Clock& clock) {
  if (options.max_size_mb < 0 || options.max_age_days < 0 || options.max_backups < 0) {
    return absl::InvalidArgumentError("--audit-log-maxsize, --audit-log-maxage and --audit-log-maxbackup must not be negative");
  }
  std::unique_ptr<AuditFile> f(new AuditFile(std::move(options), clock));
  if (absl::Status s = f->OpenCurrent(); !s.ok()) return s;
  if (f->options_.batch) f->writer_ = std::thread([raw = f.get()] {
    NameThisThread("audit-writer");
    raw->WriterLoop();
  });
  return f;
}

AuditFile::~AuditFile() {
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_.join();
  }
  if (fd_ >= 0) ::close(fd_);
}

void AuditFile::WriterLoop() {
  while (true) {
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_ || queued_.size() >= (1u << 20); });
      stop = stopping_;
    }
    Flush();
    if (stop) return;
  }
}

// The file lock is taken before the queue is emptied, so batches reach the file in the order
// they were queued whoever writes them.
void AuditFile::Flush() {
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  std::string lines;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    lines.swap(queued_);
  }
  queue_cv_.notify_all();  // requests waiting on a full queue
  if (!lines.empty()) Write(lines);
}

absl::Status AuditFile::OpenCurrent() {
  int fd = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return absl::FailedPreconditionError(StrCat("--audit-log-path ", options_.path, ": ", strerror(errno)));
  struct stat st {};
  fstat(fd, &st);
  size_ = static_cast<size_t>(st.st_size);
  fd_ = fd;
  return absl::OkStatus();
}

void AuditFile::Append(std::string line) {
  if (options_.batch) {
    std::unique_lock<std::mutex> lock(queue_mu_);
    // Bounded: past 16 MiB waiting for the disk, requests wait too rather than lose events.
    queue_cv_.wait(lock, [this] { return queued_.size() < (16u << 20) || stopping_; });
    queued_.append(line).push_back('\n');
    return;
  }
  line.push_back('\n');
  Write(line);
}

void AuditFile::Write(const std::string& buffer) {
  const size_t limit = static_cast<size_t>(options_.max_size_mb) * 1024 * 1024;
  auto full = [&] { return limit > 0 && size_ > 0 && size_ + buffer.size() > limit; };
  if (full()) {
    std::unique_lock<std::shared_mutex> lock(file_mu_);
    if (full() && fd_ >= 0) Rotate();
  }
  std::shared_lock<std::shared_mutex> lock(file_mu_);
  if (fd_ < 0) return;
  // One write(2) of the whole line on an O_APPEND descriptor: each event reaches the kernel
  // before the request's answer (a crash of the process loses none) and lines never interleave.
  // pwrite, not write: on an O_APPEND descriptor Linux appends whatever the offset (pwrite(2),
  // BUGS), and it skips the file-position mutex write(2) takes on a descriptor threads share,
  // where concurrent requests slept.
  const int fd = fd_;
  size_t done = 0;
  while (done < buffer.size()) {
    ssize_t n = ::pwrite(fd, buffer.data() + done, buffer.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  size_ += done;
}

void AuditFile::Rotate() {
  ::close(fd_);
  fd_ = -1;
  auto [stem, ext] = StemAndExtension(options_.path);
  std::string stamp = absl::FormatTime("%Y-%m-%dT%H-%M-%E3S", clock_.Now(), absl::UTCTimeZone());
  std::string backup = StrCat(stem, "-", stamp, ext);
  if (std::rename(options_.path.c_str(), backup.c_str()) != 0) {
    BERTH_LOG(Error, "apiserver.audit", "Audit log rotation failed", "path", options_.path, "error", strerror(errno));
  }
  Prune();
  if (absl::Status s = OpenCurrent(); !s.ok()) {
    BERTH_LOG(Error, "apiserver.audit", "Audit log reopen failed", "error", s.ToString());
  }
}

void AuditFile::Prune() {
  auto [stem, ext] = StemAndExtension(options_.path);
  const std::string prefix = fs::path(stem).filename().string() + "-";
  std::vector<std::pair<std::string, fs::path>> backups;  // (name: its time sorts, path)
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(options_.path).parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size() + ext.size() && name.ends_with(ext)) {
      backups.emplace_back(name, entry.path());
    }
  }
  std::sort(backups.begin(), backups.end());  // oldest first
  const std::string oldest_kept =
      options_.max_age_days > 0
          ? StrCat(prefix, absl::FormatTime("%Y-%m-%dT%H-%M-%E3S", clock_.Now() - absl::Hours(24 * options_.max_age_days),
                                           absl::UTCTimeZone()))
          : "";
  size_t remaining = backups.size();
  for (const auto& [name, path] : backups) {
    bool too_many = options_.max_backups > 0 && remaining > static_cast<size_t>(options_.max_backups);
    bool too_old = !oldest_kept.empty() && name < oldest_kept;
    if (too_many || too_old) {
      fs::remove(path, ec);
      --remaining;
    }
  }
}

}  // namespace berth::apiserver::audit
