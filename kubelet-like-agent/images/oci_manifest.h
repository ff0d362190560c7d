#pragma once
// File: kubelet-like-agent/images/oci_manifest.h
// The three documents an image is made of, parsed from registry or archive bytes: an index
// (OCI image index or Docker manifest list) that names one manifest per platform, a manifest
// that names the config and the layers, and the config (entrypoint, env, user, the layers'
// uncompressed digests). Pure functions: they see untrusted bytes, so every field is checked
// before it is used (digests before they name a path, sizes before they are trusted).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent::images {

inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
// What a registry is asked for (the Accept header), best first.
std::string ManifestAcceptHeader();

struct Descriptor {
  std::string media_type;
  std::string digest;  // checked: sha256:<64 hex>
  int64_t size = -1;
  std::string os, architecture, variant;  // platform, for index entries
};

struct Manifest {
  std::string media_type;
  bool is_index = false;
  std::vector<Descriptor> manifests;  // an index's platforms
  Descriptor config;                  // a manifest's config
  std::vector<Descriptor> layers;     // base first
};

// `content_type` is the registry's Content-Type ("" from an archive): the document's own
// mediaType wins when present. Docker schema 1 and unknown types are refused by name.
absl::StatusOr<Manifest> ParseManifest(std::string_view body, std::string_view content_type);

// The index entry for os/architecture (variant ignored unless several match: "v8" for arm64
// wins, as containerd's default matcher does); NotFound lists what the index offers.
absl::StatusOr<Descriptor> SelectPlatform(const Manifest& index, std::string_view os, std::string_view architecture);

// The compression of a layer by its media type: "gzip", "zstd", "" (plain tar).
absl::StatusOr<std::string> LayerCompression(std::string_view media_type);

struct ImageConfig {
  std::vector<std::string> entrypoint, cmd, env;
  std::string working_dir, user;
  std::string os, architecture;
  std::vector<std::string> diff_ids;
  bool has_entrypoint = false, has_cmd = false;
};

absl::StatusOr<ImageConfig> ParseImageConfig(std::string_view body);

}  // namespace berth::agent::images
