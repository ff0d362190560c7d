#pragma once
// File: apiserver/audit/audit_file.h
// The audit log file, as kube-apiserver's --audit-log-path with lumberjack: one JSON line per
// event, appended; past --audit-log-maxsize megabytes the file is renamed with its rotation time
// (audit-2026-12-03T06-10-00.000.log) and a new one started; backups beyond
// --audit-log-maxbackup or older than --audit-log-maxage days are removed. Written 0600.

#include <cstdio>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <string>

#include "absl/status/statusor.h"
#include "core/time/clock.h"

namespace berth::apiserver::audit {

struct AuditFileOptions {
  std::string path;
  int max_size_mb = 100;  // 0: never rotate
  int max_age_days = 0;   // 0: keep backups whatever their age
  int max_backups = 0;    // 0: keep every backup
  // --audit-log-mode: blocking writes each line before the request is answered; batch hands
  // lines to a writer thread that writes them together at least every 100 ms (a crash can lose
  // the last 100 ms of events; the request no longer waits for the disk).
  bool batch = false;
};

class AuditFile {
 public:
  static absl::StatusOr<std::unique_ptr<AuditFile>> Open(AuditFileOptions options, const Clock& clock);
  ~AuditFile();
  // Appends `line` and a newline, rotating first when it would pass the size limit.
  void Append(const std::string& line);
  // Batch mode: writes what is queued now (also done when destroyed).
  void Flush();

 private:
  AuditFile(AuditFileOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {}
  absl::Status OpenCurrent();
  void WriteLocked(const std::string& lines);  // with mu_ held
  void WriterLoop();
  void Rotate();
  void Prune();

  const AuditFileOptions options_;
  const Clock& clock_;
  std::mutex mu_;
  std::FILE* file_ = nullptr;
  size_t size_ = 0;
  // Batch mode.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::string queued_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace berth::apiserver::audit
