#include "kubelet-like-agent/images/image_store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/images/digest.h"
#include "kubelet-like-agent/images/layer_unpacker.h"

namespace berth::agent::images {
namespace {

namespace fs = std::filesystem;

// An flock on <root>/lock for the duration of a change: the agent and `berth image` share
// the store.
class StoreLock {
 public:
  explicit StoreLock(const std::string& root) : fd_(open((root + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0) {
      while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~StoreLock() {
    if (fd_ >= 0) close(fd_);
  }

 private:
  int fd_;
};

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Writes and renames into place, so a reader sees the old or the new file, never a part.
absl::Status WriteAtomically(const std::string& path, const std::string& data) {
  std::string temp = path + ".tmp";
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(StrCat("cannot write ", temp, ": ", std::strerror(errno)));
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(temp.c_str(), path.c_str()) != 0) {
    unlink(temp.c_str());
    return absl::UnavailableError(StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

json::Value StringArray(const std::vector<std::string>& v) {
  json::Value a = json::Value::MakeArray();
  for (const std::string& s : v) a.as_array().push_back(s);
  return a;
}

std::vector<std::string> StringsOf(const json::Value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const json::Value& s : v->as_array()) {
    if (s.is_string()) out.push_back(s.as_string());
  }
  return out;
}

bool Matches(const ImageRecord& r, const std::string& name_or_id) {
  if (r.id == name_or_id) return true;
  if (std::find(r.names.begin(), r.names.end(), name_or_id) != r.names.end()) return true;
  // An ID prefix of at least 12 hex digits, as `docker rmi` and `crictl rmi` take it.
  std::string hex = name_or_id.rfind("sha256:", 0) == 0 ? name_or_id.substr(7) : name_or_id;
  return hex.size() >= 12 && hex.find_first_not_of("0123456789abcdef") == std::string::npos &&
         r.id.compare(7, hex.size(), hex) == 0;
}

}  // namespace

std::string SerializeImageRecord(const ImageRecord& r) {
  json::Value v = json::Value::MakeObject();
  v.Set("id", r.id);
  v.Set("names", StringArray(r.names));
  v.Set("manifest", r.manifest_digest);
  v.Set("layers", StringArray(r.layers));
  v.Set("size", r.size);
  v.Set("lastUsed", r.last_used);
  return json::Serialize(v);
}

absl::StatusOr<ImageRecord> ParseImageRecord(const std::string& text) {
  auto v = json::Parse(text);
  if (!v.ok() || !v->is_object()) return absl::DataLossError("image record is not a JSON object");
  ImageRecord r;
  r.id = v->GetString({"id"});
  if (!IsSha256Digest(r.id)) return absl::DataLossError("image record has no valid id");
  r.names = StringsOf(v->Find("names"));
  r.manifest_digest = v->GetString({"manifest"});
  r.layers = StringsOf(v->Find("layers"));
  for (const std::string& l : r.layers) {
    if (!IsSha256Digest(l)) return absl::DataLossError("image record names an invalid layer digest");
  }
  if (const json::Value* s = v->Find("size"); s && s->is_int()) r.size = s->as_int();
  if (const json::Value* s = v->Find("lastUsed"); s && s->is_int()) r.last_used = s->as_int();
  return r;
}

absl::Status ImageStore::Open() {
  std::error_code ec;
  for (const char* d : {"blobs/sha256", "layers/sha256", "images", "leases", "tmp"}) {
    fs::create_directories(fs::path(root_) / d, ec);
    if (ec) return absl::UnavailableError(StrCat("image store ", root_, ": ", ec.message()));
  }
  StoreLock lock(root_);
  // A pull whose process died left a lease: what it wrote and no image record names was never
  // synced, so it goes (ReconcileLeases does the same while running).
  for (const auto& e : fs::directory_iterator(fs::path(root_) / "leases", ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("pull-", 0) != 0) continue;
    pid_t pid = static_cast<pid_t>(std::atoll(name.c_str() + 5));
    if (pid > 0 && pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM)) continue;
    DropInterruptedPull(e.path().string());
  }
  // Only a process holding the lock writes under tmp/, and none holds it now. Another
  // process may be mid-download without the lock, though: only clear what is an hour old.
  auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const auto& e : fs::directory_iterator(fs::path(root_) / "tmp", ec)) {
    if (fs::last_write_time(e.path(), ec) < cutoff) fs::remove_all(e.path(), ec);
  }
  return absl::OkStatus();
}

std::string ImageStore::BlobPath(const std::string& digest) const {
  return StrCat(root_, "/blobs/sha256/", DigestHex(digest));
}

std::string ImageStore::LayerPath(const std::string& digest) const {
  return StrCat(root_, "/layers/sha256/", DigestHex(digest));
}

bool ImageStore::HasBlob(const std::string& digest) const {
  return IsSha256Digest(digest) && access(BlobPath(digest).c_str(), F_OK) == 0;
}

std::string ImageStore::TempPath(const std::string& hint) {
  std::lock_guard<std::mutex> lock(mu_);
  return StrCat(root_, "/tmp/", getpid(), "-", ++temp_counter_, "-", hint.substr(0, 40));
}

absl::Status ImageStore::CommitBlob(const std::string& temp_path, const std::string& digest) {
  if (!IsSha256Digest(digest)) return absl::InvalidArgumentError(StrCat("\"", digest, "\" is not a sha256 digest"));
  if (rename(temp_path.c_str(), BlobPath(digest).c_str()) != 0) {
    return absl::UnavailableError(StrCat("storing blob ", digest, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status ImageStore::PutBlob(const std::string& data, const std::string& digest) {
  if (!IsSha256Digest(digest)) return absl::InvalidArgumentError(StrCat("\"", digest, "\" is not a sha256 digest"));
  if (absl::Status s = CheckDigest("blob", digest, Sha256Of(data)); !s.ok()) return s;
  if (HasBlob(digest)) return absl::OkStatus();
  std::string temp = TempPath("blob");
  if (absl::Status s = WriteAtomically(temp, data); !s.ok()) return s;
  return CommitBlob(temp, digest);
}

absl::StatusOr<std::string> ImageStore::ReadBlob(const std::string& digest, int64_t max_bytes) const {
  if (!HasBlob(digest)) return absl::NotFoundError(StrCat("blob ", digest, " is not in the store"));
  std::error_code ec;
  auto size = fs::file_size(BlobPath(digest), ec);
  if (ec || static_cast<int64_t>(size) > max_bytes) return absl::InvalidArgumentError(StrCat("blob ", digest, " is too large to read"));
  return Slurp(BlobPath(digest));
}

namespace {

// Starts writing the files under `dir` to the disk without waiting: the syncfs before the
// image record then finds most of a pull already written, instead of all of it at the end.
void StartWriteback(const std::string& dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    int fd = open(it->path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    close(fd);
  }
}

}  // namespace

absl::StatusOr<std::string> ImageStore::EnsureLayer(const std::string& blob_digest) {
  std::string dir = LayerPath(blob_digest);
  if (access(dir.c_str(), F_OK) == 0) return dir;
  if (!HasBlob(blob_digest)) return absl::NotFoundError(StrCat("layer blob ", blob_digest, " is not in the store"));
  std::string staging = TempPath("layer");
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) return absl::UnavailableError(StrCat("cannot create ", staging, ": ", ec.message()));
  auto unpacked = UnpackLayer(BlobPath(blob_digest), staging);
  if (!unpacked.ok()) {
    fs::remove_all(staging, ec);
    return absl::Status(unpacked.status().code(), StrCat("unpacking layer ", blob_digest, ": ", unpacked.status().message()));
  }
  StartWriteback(staging);
  // Layers keep the mode the archive gave their root only by accident: overlay's lower dirs
  // need to be searchable.
  chmod(staging.c_str(), 0755);
  if (rename(staging.c_str(), dir.c_str()) != 0) {
    int err = errno;
    fs::remove_all(staging, ec);
    // Another process unpacked the same layer first: theirs is as good as ours.
    if (err == EEXIST || err == ENOTEMPTY) return dir;
    return absl::UnavailableError(StrCat("installing layer ", blob_digest, ": ", std::strerror(err)));
  }
  return dir;
}

std::vector<ImageRecord> ImageStore::LoadLocked() {
  std::vector<ImageRecord> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(root_) / "images", ec)) {
    if (e.path().extension() != ".json") continue;
    auto r = ParseImageRecord(Slurp(e.path().string()));
    if (!r.ok()) continue;
    if (auto config = ReadBlob(r->id); config.ok()) {
      if (auto parsed = ParseImageConfig(*config); parsed.ok()) r->config = *std::move(parsed);
    }
    out.push_back(*std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const ImageRecord& a, const ImageRecord& b) { return a.id < b.id; });
  return out;
}

absl::Status ImageStore::WriteRecordLocked(const ImageRecord& record) {
  return WriteAtomically(StrCat(root_, "/images/", DigestHex(record.id), ".json"), SerializeImageRecord(record));
}

absl::Status ImageStore::PutImage(ImageRecord record) {
  if (!IsSha256Digest(record.id)) return absl::InvalidArgumentError("image id is not a sha256 digest");
  // Blobs and unpacked layers were written without fsync: one syncfs makes them durable before
  // the record that makes them count (fewer, larger writes than an fsync per file).
  if (int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    bool synced = syncfs(fd) == 0;
    close(fd);
    if (!synced) return absl::UnavailableError(StrCat("syncing the image store: ", std::strerror(errno)));
  }
  std::lock_guard<std::mutex> guard(mu_);
  StoreLock lock(root_);
  std::vector<ImageRecord> all = LoadLocked();
  for (ImageRecord& other : all) {
    if (other.id == record.id) {
      for (const std::string& n : other.names) {
        if (std::find(record.names.begin(), record.names.end(), n) == record.names.end()) record.names.push_back(n);
      }
      continue;
    }
    size_t before = other.names.size();
    std::erase_if(other.names, [&](const std::string& n) {
      return std::find(record.names.begin(), record.names.end(), n) != record.names.end();
    });
    if (other.names.size() != before) {
      // The tag moved: the old image keeps its other names (and stays, nameless, until removed
      // or collected, as a dangling image does).
      if (absl::Status s = WriteRecordLocked(other); !s.ok()) return s;
    }
  }
  return WriteRecordLocked(record);
}

std::optional<ImageRecord> ImageStore::Find(const std::string& name_or_id) {
  std::lock_guard<std::mutex> guard(mu_);
  for (ImageRecord& r : LoadLocked()) {
    if (Matches(r, name_or_id)) return std::move(r);
  }
  return std::nullopt;
}

std::vector<ImageRecord> ImageStore::List() {
  std::lock_guard<std::mutex> guard(mu_);
  return LoadLocked();
}

std::set<std::string> ImageStore::LeasedLocked() {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(root_) / "leases", ec)) {
    const std::string content = Slurp(e.path().string());  // Split's views point into it
    for (std::string_view d : Split(content, '\n')) {
      if (!d.empty()) out.insert(std::string(d));
    }
  }
  return out;
}

absl::Status ImageStore::Remove(const std::string& name_or_id) {
  std::lock_guard<std::mutex> guard(mu_);
  StoreLock lock(root_);
  std::vector<ImageRecord> all = LoadLocked();
  auto it = std::find_if(all.begin(), all.end(), [&](const ImageRecord& r) { return Matches(r, name_or_id); });
  if (it == all.end()) return absl::NotFoundError(StrCat("image \"", name_or_id, "\" is not in the store"));
  bool by_name = std::find(it->names.begin(), it->names.end(), name_or_id) != it->names.end();
  if (by_name && it->names.size() > 1) {
    std::erase(it->names, name_or_id);
    return WriteRecordLocked(*it);
  }
  if (LeasedLocked().count(it->id)) {
    return absl::FailedPreconditionError(StrCat("image \"", name_or_id, "\" (", it->id.substr(0, 19),
                                                ") is in use by a container: remove the pod first"));
  }
  std::string path = StrCat(root_, "/images/", DigestHex(it->id), ".json");
  if (unlink(path.c_str()) != 0) return absl::UnavailableError(StrCat("removing ", path, ": ", std::strerror(errno)));
  SweepLocked();
  return absl::OkStatus();
}

void ImageStore::SweepLocked() {
  std::set<std::string> wanted;
  for (const std::string& d : LeasedLocked()) {
    if (IsSha256Digest(d)) wanted.insert(std::string(DigestHex(d)));
  }
  for (const ImageRecord& r : LoadLocked()) {
    wanted.insert(std::string(DigestHex(r.id)));
    wanted.insert(std::string(DigestHex(r.manifest_digest.empty() ? r.id : r.manifest_digest)));
    for (const std::string& l : r.layers) wanted.insert(std::string(DigestHex(l)));
  }
  std::error_code ec;
  for (const char* dir : {"blobs/sha256", "layers/sha256"}) {
    for (const auto& e : fs::directory_iterator(fs::path(root_) / dir, ec)) {
      if (!wanted.count(e.path().filename().string())) fs::remove_all(e.path(), ec);
    }
  }
}

std::vector<std::string> ImageStore::LowerDirs(const ImageRecord& image) const {
  std::vector<std::string> out;
  for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it) out.push_back(LayerPath(*it));
  return out;
}

absl::Status ImageStore::Lease(const std::string& container_id, const std::string& image_id) {
  if (container_id.empty() || container_id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(StrCat("container id \"", container_id, "\" cannot name a lease"));
  }
  std::lock_guard<std::mutex> guard(mu_);
  StoreLock lock(root_);
  if (access(StrCat(root_, "/images/", DigestHex(image_id), ".json").c_str(), F_OK) != 0) {
    return absl::NotFoundError(StrCat("image ", image_id, " was removed"));
  }
  return WriteAtomically(StrCat(root_, "/leases/", container_id), image_id);
}

void ImageStore::Release(const std::string& holder) {
  if (holder.empty() || holder.find('/') != std::string::npos) return;
  unlink(StrCat(root_, "/leases/", holder).c_str());
}

void ImageStore::DropInterruptedPull(const std::string& lease_path) {
  std::set<std::string> referenced;
  for (const ImageRecord& r : LoadLocked()) {
    referenced.insert(r.id);
    referenced.insert(r.manifest_digest);
    referenced.insert(r.layers.begin(), r.layers.end());
  }
  const std::string content = Slurp(lease_path);
  std::error_code ec;
  for (std::string_view d : Split(content, '\n')) {
    std::string digest(d);
    if (!IsSha256Digest(digest) || referenced.count(digest)) continue;
    fs::remove(BlobPath(digest), ec);
    fs::remove_all(LayerPath(digest), ec);
  }
  fs::remove(lease_path, ec);
}

std::string ImageStore::LeaseForPull(const std::vector<std::string>& digests) {
  std::string holder;
  {
    std::lock_guard<std::mutex> lock(mu_);
    holder = StrCat("pull-", getpid(), "-", ++temp_counter_);
  }
  // Without the store lock: a sweep that runs before this lands cannot see blobs this pull
  // has not fetched yet either.
  (void)WriteAtomically(StrCat(root_, "/leases/", holder), Join(digests, "\n"));
  return holder;
}

void ImageStore::ReconcileLeases(const std::set<std::string>& live) {
  std::lock_guard<std::mutex> guard(mu_);
  StoreLock lock(root_);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(root_) / "leases", ec)) {
    std::string name = e.path().filename().string();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) continue;
    // A lease younger than a minute may belong to a container that started after `live` was
    // listed: it stays until the next round.
    struct stat st;
    if (stat(e.path().c_str(), &st) == 0 && time(nullptr) - st.st_mtime < 60) continue;
    if (name.rfind("pull-", 0) == 0) {
      // pull-<pid>-<n>: gone with its process.
      pid_t pid = static_cast<pid_t>(std::atoll(name.c_str() + 5));
      if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)) continue;
      DropInterruptedPull(e.path().string());
      continue;
    } else if (live.count(name)) {
      continue;
    }
    fs::remove(e.path(), ec);
  }
}

void ImageStore::Touch(const std::string& image_id, int64_t now) {
  if (!IsSha256Digest(image_id)) return;
  std::lock_guard<std::mutex> guard(mu_);
  StoreLock lock(root_);
  std::string path = StrCat(root_, "/images/", DigestHex(image_id), ".json");
  auto r = ParseImageRecord(Slurp(path));
  // A minute's precision is plenty for LRU, and spares most launches a record write.
  if (!r.ok() || now - r->last_used < 60) return;
  r->last_used = now;
  (void)WriteRecordLocked(*r);
}

absl::StatusOr<std::pair<int64_t, int64_t>> ImageStore::FileSystemUsage() const {
  struct statvfs st;
  if (statvfs(root_.c_str(), &st) != 0) return absl::UnavailableError(StrCat("statvfs ", root_, ": ", std::strerror(errno)));
  int64_t total = static_cast<int64_t>(st.f_blocks) * static_cast<int64_t>(st.f_frsize);
  int64_t available = static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
  return std::make_pair(total - available, total);
}

int64_t ImageStore::FreeSpace(int64_t bytes_to_free, int64_t now, int64_t min_age_seconds) {
  std::lock_guard<std::mutex> guard(mu_);
  StoreLock lock(root_);
  std::vector<ImageRecord> all = LoadLocked();
  std::set<std::string> leased = LeasedLocked();
  std::sort(all.begin(), all.end(), [](const ImageRecord& a, const ImageRecord& b) { return a.last_used < b.last_used; });
  int64_t freed = 0;
  for (const ImageRecord& r : all) {
    if (freed >= bytes_to_free) break;
    if (leased.count(r.id) || now - r.last_used < min_age_seconds) continue;
    if (unlink(StrCat(root_, "/images/", DigestHex(r.id), ".json").c_str()) == 0) freed += r.size;
  }
  if (freed > 0) SweepLocked();
  return freed;
}

}  // namespace berth::agent::images
