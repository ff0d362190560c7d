#include "apiserver/audit/audit_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/log/log.h"
#include "core/strings/strings.h"

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
  return f;
}

AuditFile::~AuditFile() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status AuditFile::OpenCurrent() {
  int fd = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return absl::FailedPreconditionError(StrCat("--audit-log-path ", options_.path, ": ", strerror(errno)));
  struct stat st {};
  fstat(fd, &st);
  size_ = static_cast<size_t>(st.st_size);
  file_ = fdopen(fd, "a");
  if (file_ == nullptr) {
    ::close(fd);
    return absl::FailedPreconditionError(StrCat("--audit-log-path ", options_.path, ": cannot open"));
  }
  return absl::OkStatus();
}

void AuditFile::Append(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr) return;
  const size_t limit = static_cast<size_t>(options_.max_size_mb) * 1024 * 1024;
  if (limit > 0 && size_ > 0 && size_ + line.size() + 1 > limit) Rotate();
  if (file_ == nullptr) return;
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fputc('\n', file_);
  // Each event reaches the kernel before the request's answer: a crash loses none written.
  std::fflush(file_);
  size_ += line.size() + 1;
}

void AuditFile::Rotate() {
  std::fclose(file_);
  file_ = nullptr;
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
