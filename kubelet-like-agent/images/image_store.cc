#include "kubelet-like-agent/images/image_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/image/reference.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

fs::path Blob(const fs::path& layout, const std::string& digest) {
  size_t colon = digest.find(':');
  return layout / "blobs" / digest.substr(0, colon) / digest.substr(colon + 1);
}

// GNU tar detects gzip itself; --no-same-owner is not used: we run as root and keep owners.
absl::Status Untar(const fs::path& archive, const fs::path& into) {
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    execlp("tar", "tar", "--numeric-owner", "-xf", archive.c_str(), "-C", into.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InvalidArgumentError(StrCat("extracting layer ", archive.string(), " failed (tar exit ",
                                             WIFEXITED(status) ? WEXITSTATUS(status) : -1, ")"));
  }
  return absl::OkStatus();
}

// Moves an extracted layer onto the root file system, honouring its whiteouts.
void ApplyLayer(const fs::path& layer, const fs::path& rootfs) {
  std::error_code ec;
  std::vector<fs::path> entries;
  for (auto it = fs::recursive_directory_iterator(layer, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    entries.push_back(it->path());
  }
  for (const fs::path& p : entries) {  // whiteouts first: they delete what lower layers had
    std::string name = p.filename().string();
    fs::path rel = fs::relative(p.parent_path(), layer, ec);
    if (name == ".wh..wh..opq") {
      for (const auto& child : fs::directory_iterator(rootfs / rel, ec)) fs::remove_all(child.path(), ec);
    } else if (name.rfind(".wh.", 0) == 0) {
      fs::remove_all(rootfs / rel / name.substr(4), ec);
    }
  }
  for (const fs::path& p : entries) {
    std::string name = p.filename().string();
    if (name.rfind(".wh.", 0) == 0) continue;
    fs::path target = rootfs / fs::relative(p, layer, ec);
    fs::file_status st = fs::symlink_status(p, ec);
    if (fs::is_directory(st)) {
      if (!fs::is_directory(fs::symlink_status(target, ec))) fs::remove_all(target, ec);
      fs::create_directories(target, ec);
      fs::permissions(target, fs::status(p, ec).permissions(), ec);
      continue;
    }
    fs::remove_all(target, ec);
    fs::create_directories(target.parent_path(), ec);
    fs::rename(p, target, ec);
    if (ec) fs::copy(p, target, fs::copy_options::copy_symlinks, ec);
  }
}

}  // namespace

absl::StatusOr<std::string> ImportImage(const std::string& store_dir, const std::string& reference,
                                        const std::string& source) {
  auto parsed = image::ParseReference(reference);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->digest.empty()) {
    return absl::InvalidArgumentError(StrCat("image reference \"", reference, "\": the store keeps images by name and tag, not digest"));
  }
  std::string name = parsed->Name();
  std::string tag = parsed->tag.empty() ? "latest" : parsed->tag;
  std::error_code ec;
  fs::path dest = fs::path(store_dir) / name / tag;
  fs::path staging = fs::path(store_dir) / name / (tag + ".importing");
  fs::remove_all(staging, ec);
  fs::path rootfs = staging / "rootfs";
  fs::create_directories(rootfs, ec);
  if (ec) return absl::UnavailableError(StrCat("cannot create ", rootfs.string(), ": ", ec.message()));
  fs::path src(source);
  if (fs::exists(src / "oci-layout") && fs::exists(src / "index.json")) {
    auto index = json::Parse(Slurp(src / "index.json"));
    if (!index.ok()) return absl::InvalidArgumentError("index.json is not JSON");
    const json::Value* manifests = index->Find("manifests");
    if (manifests == nullptr || !manifests->is_array() || manifests->size() == 0) {
      return absl::InvalidArgumentError("index.json lists no manifest");
    }
    auto manifest = json::Parse(Slurp(Blob(src, manifests->as_array()[0].GetString({"digest"}))));
    if (!manifest.ok()) return absl::InvalidArgumentError("the image manifest is not JSON");
    if (manifest->Find("manifests")) {  // an index of platforms: take the first
      manifest = json::Parse(Slurp(Blob(src, manifest->Find("manifests")->as_array()[0].GetString({"digest"}))));
      if (!manifest.ok()) return absl::InvalidArgumentError("the platform manifest is not JSON");
    }
    const json::Value* layers = manifest->Find("layers");
    if (layers == nullptr || !layers->is_array()) return absl::InvalidArgumentError("the manifest has no layers");
    int i = 0;
    for (const json::Value& layer : layers->as_array()) {
      fs::path blob = Blob(src, layer.GetString({"digest"}));
      if (!fs::exists(blob)) return absl::NotFoundError(StrCat("layer blob ", blob.string(), " is missing"));
      fs::path extracted = staging / StrCat("layer-", i++);
      fs::create_directories(extracted, ec);
      if (absl::Status s = Untar(blob, extracted); !s.ok()) return s;
      ApplyLayer(extracted, rootfs);
      fs::remove_all(extracted, ec);
    }
  } else if (fs::is_directory(src)) {
    fs::copy(src, rootfs, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) return absl::UnavailableError(StrCat("copying ", source, ": ", ec.message()));
  } else {
    return absl::InvalidArgumentError(StrCat(source, " is neither a root file system directory nor an OCI image layout"));
  }
  fs::remove_all(dest, ec);
  fs::rename(staging, dest, ec);
  if (ec) return absl::UnavailableError(StrCat("installing ", dest.string(), ": ", ec.message()));
  return (dest / "rootfs").string();
}

std::vector<std::string> ListImages(const std::string& store_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& name : fs::directory_iterator(store_dir, ec)) {
    for (const auto& tag : fs::directory_iterator(name.path(), ec)) {
      if (fs::is_directory(tag.path() / "rootfs")) out.push_back(name.path().filename().string() + ":" + tag.path().filename().string());
    }
  }
  return out;
}

}  // namespace berth::agent
