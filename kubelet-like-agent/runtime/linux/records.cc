#include "kubelet-like-agent/runtime/linux/records.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/init/init_spec.h"

namespace berth::agent::runtime {
namespace {

// Up to `max` bytes of a file from `offset` ("" if it cannot be read): a record's checkpoint or
// its exit record, without reading the other.
std::string ReadRegion(const std::string& path, off_t offset, size_t max) {
  std::string out(max, '\0');
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t n = pread(fd, out.data(), max, offset);
  close(fd);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// Rewrites the checkpoint region of a container's record file in place with one pwrite, padded
// with spaces (JSON ignores them) to the fixed size that keeps it clear of the init's exit record:
// a process that dies mid-way leaves the old or the new content, and no inode is created per
// write. No fsync: checkpoints must survive the agent's death, which the page cache does; a
// machine that reboots loses its containers too, and those are then restarted per policy.
absl::Status WriteRegion(const std::string& path, std::string body) {
  if (body.size() > static_cast<size_t>(kExitRecordOffset)) {
    return absl::InvalidArgumentError(StrCat("checkpoint of ", body.size(), " bytes exceeds its ", kExitRecordOffset,
                                             "-byte region in ", path));
  }
  body.append(static_cast<size_t>(kExitRecordOffset) - body.size(), ' ');
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(StrCat("open ", path, ": ", std::strerror(errno)));
  ssize_t n = pwrite(fd, body.data(), body.size(), 0);
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(body.size())) return absl::UnavailableError(StrCat("write ", path, ": ", std::strerror(err)));
  return absl::OkStatus();
}

json::Value CheckpointJson(const Checkpoint& c) {
  const ContainerStatus& s = c.status;
  json::Value v = json::Value::MakeObject();
  v.Set("id", s.id);
  v.Set("podKey", s.pod_key);
  v.Set("podUid", s.pod_uid);
  v.Set("containerName", s.container_name);
  v.Set("state", s.state == State::kRunning ? "running" : "exited");
  v.Set("pid", s.pid);
  v.Set("startTicks", static_cast<int64_t>(c.start_ticks));
  v.Set("exitCode", s.exit_code);
  v.Set("signal", s.signal);
  v.Set("reason", s.reason);
  if (!s.message.empty()) v.Set("message", s.message);
  v.Set("startedAt", FormatRfc3339Nano(s.started_at));
  v.Set("finishedAt", s.finished_at == absl::InfinitePast() ? "" : FormatRfc3339Nano(s.finished_at));
  v.Set("runs", s.runs);
  v.Set("logPath", s.log_path);
  v.Set("previousLogPath", s.previous_log_path);
  v.Set("specHash", s.spec_hash);
  v.Set("cgroup", c.cgroup);
  v.Set("writableLayer", c.writable_layer);
  return v;
}

int64_t IntAt(const json::Value& v, std::string_view key) {
  const json::Value* x = v.Find(key);
  return x && x->is_int() ? x->as_int() : 0;
}

}  // namespace

std::string RecordPath(std::string_view state_dir, std::string_view id) {
  return StrCat(state_dir, "/containers/", id, kRecordSuffix);
}

std::string WritableLayerUpper(std::string_view state_dir, std::string_view name) {
  return StrCat(state_dir, "/rootfs/", name);
}

std::string WritableLayerWork(std::string_view state_dir, std::string_view name) {
  return StrCat(state_dir, "/rootfs-work/", name);
}

absl::Status MakeEmptyDirectory(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::create_directory(path, ec) && !ec) {
    std::filesystem::remove_all(path, ec);
    if (!ec) std::filesystem::create_directory(path, ec);
  }
  if (ec) return absl::UnavailableError(StrCat("the writable layer ", path, ": ", ec.message()));
  return absl::OkStatus();
}

void RemoveWritableLayer(std::string_view state_dir, std::string_view name) {
  if (name.empty()) return;  // the parents themselves
  std::error_code ec;
  std::filesystem::remove_all(WritableLayerUpper(state_dir, name), ec);
  std::filesystem::remove_all(WritableLayerWork(state_dir, name), ec);
}

std::string RootMountPoint(std::string_view state_dir) { return StrCat(state_dir, "/root-mount"); }

std::string MountPointSkeleton(std::string_view state_dir) { return StrCat(state_dir, "/root-skeleton"); }

std::string StdinFifoPath(std::string_view state_dir, std::string_view id) {
  return StrCat(state_dir, "/containers/", id, ".stdin");
}

absl::Status WriteCheckpoint(const std::string& path, const Checkpoint& checkpoint) {
  return WriteRegion(path, json::Serialize(CheckpointJson(checkpoint)));
}

std::optional<Checkpoint> ReadCheckpoint(const std::string& path) {
  auto v = json::Parse(ReadRegion(path, 0, kExitRecordOffset));
  if (!v.ok()) return std::nullopt;
  Checkpoint c;
  c.status.id = v->GetString({"id"});
  if (c.status.id.empty()) return std::nullopt;
  c.status.pod_key = v->GetString({"podKey"});
  c.status.pod_uid = v->GetString({"podUid"});
  c.status.container_name = v->GetString({"containerName"});
  c.status.pid = IntAt(*v, "pid");
  c.status.exit_code = static_cast<int>(IntAt(*v, "exitCode"));
  c.status.signal = static_cast<int>(IntAt(*v, "signal"));
  c.status.reason = v->GetString({"reason"});
  c.status.message = v->GetString({"message"});
  c.status.started_at = ParseRfc3339(v->GetString({"startedAt"}), absl::InfinitePast());
  c.status.finished_at = ParseRfc3339(v->GetString({"finishedAt"}), absl::InfinitePast());
  c.status.runs = static_cast<int>(IntAt(*v, "runs"));
  c.status.log_path = v->GetString({"logPath"});
  c.status.previous_log_path = v->GetString({"previousLogPath"});
  c.status.spec_hash = v->GetString({"specHash"});
  c.cgroup = v->GetString({"cgroup"});
  c.start_ticks = static_cast<uint64_t>(IntAt(*v, "startTicks"));
  c.running = v->GetString({"state"}) == "running";
  // Checkpoints written before spare roots named every writable layer after its container.
  const json::Value* layer = v->Find("writableLayer");
  c.writable_layer = layer != nullptr && layer->is_string() ? layer->as_string() : c.status.id;
  return c;
}

std::optional<ExitRecord> ReadExitRecord(const std::string& path, int run) {
  auto v = json::Parse(ReadRegion(path, kExitRecordOffset, kExitRecordSize));
  if (!v.ok() || IntAt(*v, "run") != run) return std::nullopt;
  ExitRecord r;
  r.exit_code = static_cast<int>(IntAt(*v, "exitCode"));
  r.signal = static_cast<int>(IntAt(*v, "signal"));
  r.finished_at = v->GetString({"finishedAt"});
  r.reason = v->GetString({"reason"});
  r.message = v->GetString({"message"});
  return r;
}

// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. With the
// PID it names one process for good (PIDs are reused, start times are not).
uint64_t ProcessStartTicks(int64_t pid) {
  // Plain read(2): a start asks this once, and iostreams cost it tens of microseconds.
  char buf[1024];
  int fd = open(StrCat("/proc/", pid, "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  std::string_view stat(buf, static_cast<size_t>(n));
  size_t paren = stat.rfind(')');  // the command may hold spaces and parentheses
  if (paren == std::string_view::npos || paren + 2 > stat.size()) return 0;
  std::vector<std::string> fields = absl::StrSplit(absl::string_view(stat.data() + paren + 2, stat.size() - paren - 2), ' ');
  uint64_t ticks = 0;
  // Field 3 (the state) comes first after the command.
  return fields.size() > 22 - 3 && absl::SimpleAtoi(fields[22 - 3], &ticks) ? ticks : 0;
}

}  // namespace berth::agent::runtime
