#pragma once
// File: apiserver/audit/audit_file.h
// The audit log file, as kube-apiserver's --audit-log-path with lumberjack: one JSON line per
// event, appended; past --audit-log-maxsize megabytes the file is renamed with its rotation time
// (audit-2026-12-03T06-10-00.000.log) and a new one started; backups beyond
// --audit-log-maxbackup or older than --audit-log-maxage days are removed. Written 0600.

#include <condition_variable>
#include <atomic>
#include <mutex>
#include <shared_mutex>
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
  // Appends `line` and a newline, rotating first when it would pass the size limit (lines
  // written at the same moment may each see room for themselves: a file can pass the limit by
  // those few lines).
  void Append(std::string line);
  // Batch mode: writes what is queued now (also done when destroyed).
  void Flush();

 private:
  AuditFile(AuditFileOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {}
  absl::Status OpenCurrent();
  void Write(const std::string& lines);
  void WriterLoop();
  void Rotate();
  void Prune();

  const AuditFileOptions options_;
  const Clock& clock_;
  // Shared by writers: one write(2) on an O_APPEND descriptor needs no lock of ours (the kernel
  // appends it whole), so requests do not queue behind each other's disk writes; exclusive for
  // rotation, which replaces the descriptor.
  std::shared_mutex file_mu_;
  int fd_ = -1;
  std::atomic<size_t> size_ = 0;
  std::mutex flush_mu_;  // batch mode: one batch written at a time, in queue order
  // Batch mode.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::string queued_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace berth::apiserver::audit
