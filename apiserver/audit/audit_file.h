#pragma once
// File: apiserver/audit/audit_file.h
// The audit log file, as kube-apiserver's --audit-log-path with lumberjack: one JSON line per
// event, appended; past --audit-log-maxsize megabytes the file is renamed with its rotation time
// (audit-2026-12-03T06-10-00.000.log) and a new one started; backups beyond
// --audit-log-maxbackup or older than --audit-log-maxage days are removed. Written 0600.

#include <cstdio>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "core/time/clock.h"

namespace berth::apiserver::audit {

struct AuditFileOptions {
  std::string path;
  int max_size_mb = 100;  // 0: never rotate
  int max_age_days = 0;   // 0: keep backups whatever their age
  int max_backups = 0;    // 0: keep every backup
};

class AuditFile {
 public:
  static absl::StatusOr<std::unique_ptr<AuditFile>> Open(AuditFileOptions options, const Clock& clock);
  ~AuditFile();
  // Appends `line` and a newline, rotating first when it would pass the size limit.
  void Append(const std::string& line);

 private:
  AuditFile(AuditFileOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {}
  absl::Status OpenCurrent();
  void Rotate();
  void Prune();

  const AuditFileOptions options_;
  const Clock& clock_;
  std::mutex mu_;
  std::FILE* file_ = nullptr;
  size_t size_ = 0;
};

}  // namespace berth::apiserver::audit
