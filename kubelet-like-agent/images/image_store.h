#pragma once
// File: kubelet-like-agent/images/image_store.h
// The node's content-addressed image store, shared by the agent and `berth image` (two
// processes: every change holds an flock on <root>/lock and lands by rename):
//
//   blobs/sha256/<hex>    layers, configs and manifests exactly as fetched (verified)
//   layers/sha256/<hex>/  each layer unpacked once (keyed by its blob digest), overlay lower dirs
//   images/<hex>.json     one record per image (by config digest): names, layers, size
//   leases/<container>    the image a container runs; a leased image is never removed
//   tmp/                  downloads and unpacks in progress (cleared at open)
//
// A layer directory appears only once it is complete, so nothing half-unpacked is ever used.
// Layers are shared by every image that has them and removed with the last one.

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kubelet-like-agent/images/oci_manifest.h"

namespace berth::agent::images {

struct ImageRecord {
  std::string id;                  // the config digest (the image ID)
  std::vector<std::string> names;  // normalized: "docker.io/library/busybox:1.36", ".../busybox@sha256:..."
  std::string manifest_digest;
  std::vector<std::string> layers;  // blob digests, base first
  int64_t size = 0;                 // bytes of the blobs (config and layers), as registries count it
  int64_t last_used = 0;            // unix seconds
  ImageConfig config;
};

class ImageStore {
 public:
  explicit ImageStore(std::string root) : root_(std::move(root)) {}
  // Creates the layout and clears tmp/ (a crash mid-download leaves nothing behind).
  absl::Status Open();
  const std::string& root() const { return root_; }

  std::string BlobPath(const std::string& digest) const;
  bool HasBlob(const std::string& digest) const;
  // A fresh path under tmp/ for a download or an unpack.
  std::string TempPath(const std::string& hint);
  // Moves a file whose sha256 is `digest` (the caller verified it) into blobs/.
  absl::Status CommitBlob(const std::string& temp_path, const std::string& digest);
  // Verifies and commits `data` as a blob (manifests and configs, small).
  absl::Status PutBlob(const std::string& data, const std::string& digest);
  absl::StatusOr<std::string> ReadBlob(const std::string& digest, int64_t max_bytes = 4 << 20) const;

  // The unpacked directory of a layer blob, unpacking it first if needed.
  absl::StatusOr<std::string> EnsureLayer(const std::string& blob_digest);
  std::string LayerPath(const std::string& blob_digest) const;

  // Adds or updates an image; `record.names` are taken from any other image that had them (a
  // tag moves to the newer image, as with docker and containerd).
  absl::Status PutImage(ImageRecord record);
  // By a normalized name, or by ID (sha256:...) or a unique ID prefix.
  std::optional<ImageRecord> Find(const std::string& name_or_id);
  std::vector<ImageRecord> List();
  // Removes a name; the image goes with its last name (unless leased), then its unshared
  // blobs and layers. FailedPrecondition naming the container when in use.
  absl::Status Remove(const std::string& name_or_id);

  // The overlay lower dirs of an image: top layer first, as overlayfs's lowerdir wants them.
  std::vector<std::string> LowerDirs(const ImageRecord& image) const;

  // A container runs `image_id`: it may not be removed until Release or ReconcileLeases.
  absl::Status Lease(const std::string& container_id, const std::string& image_id);
  void Release(const std::string& holder);
  // Drops the leases of containers not in `live` (and those of pulls whose process is gone),
  // once they are a minute old: `live` may predate a container that just leased its image.
  void ReconcileLeases(const std::set<std::string>& live);
  // Protects the blobs of a pull in progress from a concurrent sweep (another process may be
  // removing an image that shares them); Release(holder) when the image is recorded.
  std::string LeaseForPull(const std::vector<std::string>& digests);
  void Touch(const std::string& image_id, int64_t now);

  // Bytes used / total of the file system the store is on.
  absl::StatusOr<std::pair<int64_t, int64_t>> FileSystemUsage() const;
  // Removes unleased images, least recently used first, until `bytes_to_free` are freed or no
  // candidate is left; the bytes freed.
  int64_t FreeSpace(int64_t bytes_to_free, int64_t now, int64_t min_age_seconds = 0);

 private:
  // Removes blobs and layers no image references (holds the lock).
  void SweepLocked();
  std::vector<ImageRecord> LoadLocked();
  absl::Status WriteRecordLocked(const ImageRecord& record);
  std::set<std::string> LeasedLocked();
  // The lease of a pull whose process is gone: its blobs and layers no record names go.
  void DropInterruptedPull(const std::string& lease_path);

  const std::string root_;
  std::mutex mu_;  // in-process; the flock serializes against other processes
  uint64_t temp_counter_ = 0;
};

// Record <-> JSON (the on-disk form).
std::string SerializeImageRecord(const ImageRecord& record);
absl::StatusOr<ImageRecord> ParseImageRecord(const std::string& text);

}  // namespace berth::agent::images
