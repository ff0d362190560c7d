#pragma once
// File: kubelet-like-agent/images/layer_unpacker.h
// Unpacks one image layer (a tar, plain, gzip or zstd, read by libarchive) into a directory
// that overlayfs then stacks as a read-only lower layer. OCI whiteouts become overlay's own:
// ".wh.NAME" a 0/0 character device NAME, ".wh..wh..opq" the directory's
// trusted.overlay.opaque="y". Entries are confined to the directory: ".." components,
// absolute hard-link targets and paths through symlinks are refused, not followed.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace berth::agent::images {

struct UnpackStats {
  int64_t entries = 0;
  int64_t bytes = 0;  // file contents written
};

// `into` must exist and be empty. On error it may hold part of the layer: unpack into a
// staging directory and rename it into place only on success (ImageStore does).
absl::StatusOr<UnpackStats> UnpackLayer(const std::string& archive_path, const std::string& into);

// The archive path of an entry made safe: no leading "/" or "./", no "." components; an
// error for "..". "" for the root itself.
absl::StatusOr<std::string> CleanEntryPath(std::string_view path);

}  // namespace berth::agent::images
