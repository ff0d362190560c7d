#pragma once
// File: kubelet-like-agent/images/image_import.h
// `berth image import`: images that arrive without a registry. Takes an OCI image layout (a
// directory, or a tar of one) or a `docker save` archive (manifest.json with Config, RepoTags
// and Layers); every blob is verified against its digest on the way into the store (a
// docker-save layer's digest is computed: that format names layers by path).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kubelet-like-agent/images/image_store.h"

namespace berth::agent::images {

// `name`: the reference to store the image under; "" takes the archive's own names
// (RepoTags, or the OCI org.opencontainers.image.ref.name annotation). The imported images.
// `now`: unix seconds, the images' last use.
absl::StatusOr<std::vector<ImageRecord>> ImportImage(ImageStore& store, const std::string& source, const std::string& name,
                                                     int64_t now);

}  // namespace berth::agent::images
