#pragma once
// File: kubelet-like-agent/images/image_store.h
// The agent's local image store: <dir>/<name>/<tag>/rootfs, an unpacked root file system that
// containers enter with pivot_root. Images arrive by import (there is no registry client):
// from a directory holding a root file system, or from an OCI image layout (oci-layout,
// index.json, blobs/sha256/...), whose layers (tar, gzip) are applied in order with whiteouts
// (.wh.<name> deletes, .wh..wh..opq empties a directory).

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent {

// Imports `source` as `reference` (NAME[:TAG], tag "latest" by default); the rootfs path.
absl::StatusOr<std::string> ImportImage(const std::string& store_dir, const std::string& reference,
                                        const std::string& source);
// NAME:TAG of every image in the store.
std::vector<std::string> ListImages(const std::string& store_dir);

}  // namespace berth::agent
