#include "kubelet-like-agent/images/oci_manifest.h"

#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/images/digest.h"

namespace berth::agent::images {
namespace {

constexpr int kMaxDepth = 32;
constexpr size_t kMaxEntries = 1024;  // layers or platforms: far above any real image

absl::StatusOr<Descriptor> ParseDescriptor(const json::Value& v, std::string_view where) {
  if (!v.is_object()) return absl::InvalidArgumentError(StrCat(where, " is not an object"));
  Descriptor d;
  d.media_type = v.GetString({"mediaType"});
  d.digest = v.GetString({"digest"});
  if (!IsSha256Digest(d.digest)) {
    return absl::InvalidArgumentError(StrCat(where, ".digest \"", d.digest.substr(0, 80), "\" is not a sha256 digest"));
  }
  if (const json::Value* size = v.Find("size"); size != nullptr && size->is_int()) d.size = size->as_int();
  if (d.size < 0) return absl::InvalidArgumentError(StrCat(where, ".size is missing or negative"));
  d.os = v.GetString({"platform", "os"});
  d.architecture = v.GetString({"platform", "architecture"});
  d.variant = v.GetString({"platform", "variant"});
  return d;
}

absl::StatusOr<std::vector<std::string>> Strings(const json::Value* v, std::string_view where) {
  std::vector<std::string> out;
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return absl::InvalidArgumentError(StrCat(where, " is not a list of strings"));
  for (const json::Value& s : v->as_array()) {
    if (!s.is_string()) return absl::InvalidArgumentError(StrCat(where, " is not a list of strings"));
    out.push_back(s.as_string());
  }
  return out;
}

}  // namespace

std::string ManifestAcceptHeader() {
  return StrCat(kOciIndex, ", ", kDockerManifestList, ", ", kOciManifest, ", ", kDockerManifest);
}

absl::StatusOr<Manifest> ParseManifest(std::string_view body, std::string_view content_type) {
  auto doc = json::Parse(body, kMaxDepth);
  if (!doc.ok()) return absl::InvalidArgumentError(StrCat("the image manifest is not JSON: ", doc.status().message()));
  if (!doc->is_object()) return absl::InvalidArgumentError("the image manifest is not a JSON object");
  Manifest m;
  m.media_type = doc->GetString({"mediaType"});
  if (m.media_type.empty()) {
    std::string_view ct = content_type.substr(0, content_type.find(';'));
    m.media_type = std::string(ct);
  }
  if (const json::Value* v = doc->Find("schemaVersion"); v != nullptr && v->is_int() && v->as_int() == 1) {
    return absl::InvalidArgumentError("Docker image manifest schema 1 is not supported (deprecated since 2017): push the image again with a current client");
  }
  if (m.media_type.empty()) {  // an OCI document may omit mediaType: tell by its fields
    if (doc->Find("manifests")) m.media_type = std::string(kOciIndex);
    else if (doc->Find("layers")) m.media_type = std::string(kOciManifest);
  }
  if (m.media_type == kOciIndex || m.media_type == kDockerManifestList) {
    m.is_index = true;
    const json::Value* list = doc->Find("manifests");
    if (list == nullptr || !list->is_array()) return absl::InvalidArgumentError("the image index has no manifests list");
    if (list->size() > kMaxEntries) return absl::InvalidArgumentError("the image index lists too many manifests");
    int i = 0;
    for (const json::Value& e : list->as_array()) {
      auto d = ParseDescriptor(e, StrCat("manifests[", i++, "]"));
      if (!d.ok()) return d.status();
      m.manifests.push_back(*std::move(d));
    }
    return m;
  }
  if (m.media_type != kOciManifest && m.media_type != kDockerManifest) {
    return absl::InvalidArgumentError(StrCat("unsupported manifest media type \"", m.media_type.substr(0, 120), "\""));
  }
  const json::Value* config = doc->Find("config");
  if (config == nullptr) return absl::InvalidArgumentError("the image manifest has no config");
  auto c = ParseDescriptor(*config, "config");
  if (!c.ok()) return c.status();
  m.config = *std::move(c);
  const json::Value* layers = doc->Find("layers");
  if (layers == nullptr || !layers->is_array()) return absl::InvalidArgumentError("the image manifest has no layers list");
  if (layers->size() > kMaxEntries) return absl::InvalidArgumentError("the image manifest lists too many layers");
  int i = 0;
  for (const json::Value& e : layers->as_array()) {
    auto d = ParseDescriptor(e, StrCat("layers[", i++, "]"));
    if (!d.ok()) return d.status();
    if (auto compression = LayerCompression(d->media_type); !compression.ok()) return compression.status();
    m.layers.push_back(*std::move(d));
  }
  return m;
}

absl::StatusOr<Descriptor> SelectPlatform(const Manifest& index, std::string_view os, std::string_view architecture) {
  const Descriptor* best = nullptr;
  std::vector<std::string> offered;
  for (const Descriptor& d : index.manifests) {
    // Attestation manifests (buildkit's "unknown/unknown") are not images.
    offered.push_back(d.variant.empty() ? StrCat(d.os, "/", d.architecture) : StrCat(d.os, "/", d.architecture, "/", d.variant));
    if (d.os != os || d.architecture != architecture) continue;
    if (best == nullptr || (architecture == "arm64" && d.variant == "v8")) best = &d;
  }
  if (best == nullptr) {
    return absl::NotFoundError(StrCat("no matching manifest for ", os, "/", architecture, " in the manifest list entries (offered: ",
                                      offered.empty() ? std::string("none") : Join(offered, ", "), ")"));
  }
  return *best;
}

absl::StatusOr<std::string> LayerCompression(std::string_view media_type) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {"application/vnd.oci.image.layer.v1.tar", ""},
      {"application/vnd.oci.image.layer.v1.tar+gzip", "gzip"},
      {"application/vnd.oci.image.layer.v1.tar+zstd", "zstd"},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar", ""},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "gzip"},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", "zstd"},
      {"application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip"},
      {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "gzip"},
      {"application/vnd.docker.image.rootfs.diff.tar", ""},
  };
  for (const auto& [type, compression] : kTypes) {
    if (media_type == type) return std::string(compression);
  }
  return absl::InvalidArgumentError(StrCat("unsupported layer media type \"", media_type.substr(0, 120), "\""));
}

absl::StatusOr<ImageConfig> ParseImageConfig(std::string_view body) {
  auto doc = json::Parse(body, kMaxDepth);
  if (!doc.ok()) return absl::InvalidArgumentError(StrCat("the image config is not JSON: ", doc.status().message()));
  if (!doc->is_object()) return absl::InvalidArgumentError("the image config is not a JSON object");
  ImageConfig c;
  c.os = doc->GetString({"os"});
  c.architecture = doc->GetString({"architecture"});
  const json::Value* config = doc->Find("config");
  if (config != nullptr && config->is_object()) {
    const json::Value* entrypoint = config->Find("Entrypoint");
    const json::Value* cmd = config->Find("Cmd");
    c.has_entrypoint = entrypoint != nullptr && entrypoint->is_array();
    c.has_cmd = cmd != nullptr && cmd->is_array();
    auto e = Strings(entrypoint, "config.Entrypoint");
    if (!e.ok()) return e.status();
    c.entrypoint = *std::move(e);
    auto k = Strings(cmd, "config.Cmd");
    if (!k.ok()) return k.status();
    c.cmd = *std::move(k);
    auto env = Strings(config->Find("Env"), "config.Env");
    if (!env.ok()) return env.status();
    c.env = *std::move(env);
    c.working_dir = config->GetString({"WorkingDir"});
    c.user = config->GetString({"User"});
  }
  auto diff_ids = Strings(doc->Get({"rootfs", "diff_ids"}), "rootfs.diff_ids");
  if (!diff_ids.ok()) return diff_ids.status();
  c.diff_ids = *std::move(diff_ids);
  return c;
}

}  // namespace berth::agent::images
