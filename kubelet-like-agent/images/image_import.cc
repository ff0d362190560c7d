#include "kubelet-like-agent/images/image_import.h"

#include <filesystem>
#include <fstream>

#include "core/image/reference.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/images/digest.h"
#include "kubelet-like-agent/images/layer_unpacker.h"

namespace berth::agent::images {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Copies `file` into the store as the blob `digest` ("" computes it): the digest.
absl::StatusOr<std::string> AddBlob(ImageStore& store, const fs::path& file, const std::string& digest) {
  auto actual = Sha256OfFile(file.string());
  if (!actual.ok()) return actual.status();
  if (!digest.empty()) {
    if (absl::Status s = CheckDigest(StrCat("blob ", file.filename().string()), digest, *actual); !s.ok()) return s;
  }
  if (store.HasBlob(*actual)) return *actual;
  std::string temp = store.TempPath("import");
  std::error_code ec;
  fs::copy_file(file, temp, ec);
  if (ec) return absl::UnavailableError(StrCat("copying ", file.string(), ": ", ec.message()));
  if (absl::Status s = store.CommitBlob(temp, *actual); !s.ok()) return s;
  return *actual;
}

fs::path LayoutBlob(const fs::path& layout, const std::string& digest) {
  return layout / "blobs" / "sha256" / std::string(DigestHex(digest));
}

absl::StatusOr<std::string> NormalizedName(const std::string& name) {
  auto ref = image::ParseReference(name);
  if (!ref.ok()) return ref.status();
  if (!ref->digest.empty()) return absl::InvalidArgumentError(StrCat("import as a name with a tag, not a digest: \"", name, "\""));
  return ref->Normalized();
}

absl::StatusOr<ImageRecord> Record(ImageStore& store, const std::string& config_digest, const std::string& manifest_digest,
                                   const std::vector<std::string>& layers, const std::vector<std::string>& names, int64_t now) {
  ImageRecord r;
  r.id = config_digest;
  r.manifest_digest = manifest_digest;
  r.layers = layers;
  for (const std::string& n : names) {
    auto normalized = NormalizedName(n);
    if (!normalized.ok()) return normalized.status();
    r.names.push_back(*normalized);
  }
  std::error_code ec;
  r.size = static_cast<int64_t>(fs::file_size(store.BlobPath(config_digest), ec));
  for (const std::string& l : layers) {
    r.size += static_cast<int64_t>(fs::file_size(store.BlobPath(l), ec));
    if (auto dir = store.EnsureLayer(l); !dir.ok()) return dir.status();
  }
  auto config = store.ReadBlob(config_digest);
  if (!config.ok()) return config.status();
  auto parsed = ParseImageConfig(*config);
  if (!parsed.ok()) return parsed.status();
  r.config = *std::move(parsed);
  r.last_used = now;
  if (absl::Status s = store.PutImage(r); !s.ok()) return s;
  return r;
}

absl::StatusOr<std::vector<ImageRecord>> ImportOciLayout(ImageStore& store, const fs::path& layout, const std::string& name,
                                                         int64_t now) {
  auto index = ParseManifest(Slurp(layout / "index.json"), kOciIndex);
  if (!index.ok()) return absl::InvalidArgumentError(StrCat("index.json: ", index.status().message()));
  auto index_doc = json::Parse(Slurp(layout / "index.json"));
  std::vector<ImageRecord> out;
  size_t position = 0;
  for (const Descriptor& entry : index->manifests) {
    const json::Value* entries = index_doc.ok() && index_doc->is_object() ? index_doc->Find("manifests") : nullptr;
    const json::Value* annotations =
        entries && entries->is_array() && position < entries->size() ? entries->as_array()[position].Find("annotations") : nullptr;
    std::string ref_name = annotations ? annotations->GetString({"io.containerd.image.name"}) : "";
    if (ref_name.empty() && annotations) {
      // The OCI annotation may hold only a tag ("latest"): without a repository it is no name.
      std::string annotated = annotations->GetString({"org.opencontainers.image.ref.name"});
      if (annotated.find_first_of("/:") != std::string::npos) ref_name = annotated;
    }
    ++position;
    Descriptor d = entry;
    std::string body = Slurp(LayoutBlob(layout, d.digest));
    if (absl::Status s = CheckDigest(StrCat("manifest ", d.digest), d.digest, Sha256Of(body)); !s.ok()) return s;
    auto manifest = ParseManifest(body, d.media_type);
    if (!manifest.ok()) return manifest.status();
    if (absl::Status s = store.PutBlob(body, d.digest); !s.ok()) return s;
    if (manifest->is_index) {
      auto platform = SelectPlatform(*manifest, "linux", "amd64");
      if (!platform.ok()) return platform.status();
      d = *platform;
      body = Slurp(LayoutBlob(layout, d.digest));
      if (absl::Status s = CheckDigest(StrCat("manifest ", d.digest), d.digest, Sha256Of(body)); !s.ok()) return s;
      manifest = ParseManifest(body, d.media_type);
      if (!manifest.ok()) return manifest.status();
      if (absl::Status s = store.PutBlob(body, d.digest); !s.ok()) return s;
    }
    std::vector<std::string> protect = {d.digest, manifest->config.digest};
    for (const Descriptor& l : manifest->layers) protect.push_back(l.digest);
    std::string lease = store.LeaseForPull(protect);
    auto release = [&] { store.Release(lease); };
    auto config = AddBlob(store, LayoutBlob(layout, manifest->config.digest), manifest->config.digest);
    if (!config.ok()) return release(), config.status();
    std::vector<std::string> layers;
    for (const Descriptor& l : manifest->layers) {
      auto added = AddBlob(store, LayoutBlob(layout, l.digest), l.digest);
      if (!added.ok()) return release(), added.status();
      layers.push_back(*added);
    }
    std::vector<std::string> names;
    if (!name.empty()) names.push_back(name);
    else if (!ref_name.empty()) names.push_back(ref_name);
    auto r = Record(store, *config, d.digest, layers, names, now);
    release();
    if (!r.ok()) return r.status();
    out.push_back(*std::move(r));
    if (!name.empty()) break;  // one name names one image
  }
  if (out.empty()) return absl::InvalidArgumentError("index.json lists no image");
  return out;
}

absl::StatusOr<std::vector<ImageRecord>> ImportDockerSave(ImageStore& store, const fs::path& dir, const std::string& name,
                                                          int64_t now) {
  auto doc = json::Parse(Slurp(dir / "manifest.json"));
  if (!doc.ok() || !doc->is_array() || doc->size() == 0) return absl::InvalidArgumentError("manifest.json is not a list of images");
  std::vector<ImageRecord> out;
  for (const json::Value& entry : doc->as_array()) {
    auto path_of = [&](const std::string& rel) -> absl::StatusOr<fs::path> {
      auto clean = CleanEntryPath(rel);
      if (!clean.ok()) return clean.status();
      fs::path p = dir / *clean;
      if (!fs::is_regular_file(p)) return absl::NotFoundError(StrCat("the archive has no file ", rel));
      return p;
    };
    auto config_path = path_of(entry.GetString({"Config"}));
    if (!config_path.ok()) return config_path.status();
    auto config = AddBlob(store, *config_path, "");
    if (!config.ok()) return config.status();
    std::vector<std::string> layers;
    const json::Value* list = entry.Find("Layers");
    if (list == nullptr || !list->is_array()) return absl::InvalidArgumentError("manifest.json: an image has no Layers");
    for (const json::Value& l : list->as_array()) {
      auto p = path_of(l.is_string() ? l.as_string() : "");
      if (!p.ok()) return p.status();
      auto added = AddBlob(store, *p, "");
      if (!added.ok()) return added.status();
      layers.push_back(*added);
    }
    std::vector<std::string> names;
    if (!name.empty()) {
      names.push_back(name);
    } else if (const json::Value* tags = entry.Find("RepoTags"); tags && tags->is_array()) {
      for (const json::Value& t : tags->as_array()) {
        if (t.is_string()) names.push_back(t.as_string());
      }
    }
    auto r = Record(store, *config, "", layers, names, now);
    if (!r.ok()) return r.status();
    out.push_back(*std::move(r));
    if (!name.empty()) break;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ImageRecord>> ImportImage(ImageStore& store, const std::string& source, const std::string& name,
                                                     int64_t now) {
  std::error_code ec;
  fs::path dir = source;
  std::string extracted;
  if (!fs::is_directory(dir, ec)) {
    if (!fs::is_regular_file(dir, ec)) return absl::NotFoundError(StrCat(source, " is neither an archive nor a directory"));
    extracted = store.TempPath("archive");
    fs::create_directories(extracted, ec);
    auto unpacked = UnpackLayer(source, extracted);
    if (!unpacked.ok()) {
      fs::remove_all(extracted, ec);
      return absl::InvalidArgumentError(StrCat(source, ": ", unpacked.status().message()));
    }
    dir = extracted;
  }
  absl::StatusOr<std::vector<ImageRecord>> result;
  if (fs::exists(dir / "oci-layout") && fs::exists(dir / "index.json")) {
    result = ImportOciLayout(store, dir, name, now);
  } else if (fs::exists(dir / "manifest.json")) {
    result = ImportDockerSave(store, dir, name, now);
  } else {
    result = absl::InvalidArgumentError(StrCat(source, " is neither an OCI image layout (oci-layout, index.json) nor a `docker save` archive (manifest.json)"));
  }
  if (!extracted.empty()) fs::remove_all(extracted, ec);
  return result;
}

}  // namespace berth::agent::images
