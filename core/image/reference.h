#pragma once
// File: core/image/reference.h
// Container image references as the distribution spec defines them ("nginx", "nginx:1.27",
// "registry.k8s.io/pause:3.9", "localhost:5000/team/app@sha256:..."), parsed once for the
// apiserver's defaulting, the agent's image store and (later) registry pulls.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace berth::image {

struct Reference {
  std::string domain;  // "registry.k8s.io", "localhost:5000", or "" when none was given
  std::string path;    // "pause", "team/app"
  std::string tag;     // "" when none was given
  std::string digest;  // "sha256:<hex>", or ""

  // domain/path, as written (no docker.io default added).
  std::string Name() const { return domain.empty() ? path : domain + "/" + path; }
  // The tag, "latest" when neither a tag nor a digest was given.
  std::string TagOrLatest() const { return tag.empty() && digest.empty() ? "latest" : tag; }
  // What the kubelet defaults imagePullPolicy to Always for: the latest tag, explicit or implied.
  bool IsLatest() const { return digest.empty() && (tag.empty() || tag == "latest"); }

  // containerd's normalization: the registry "docker.io" when none is given, and "library/"
  // before a one-component Docker Hub path ("nginx" -> docker.io/library/nginx).
  std::string Registry() const { return domain.empty() ? "docker.io" : domain; }
  std::string Repository() const {
    return Registry() == "docker.io" && path.find('/') == std::string::npos ? "library/" + path : path;
  }
  // registry/repository[:tag][@digest], ":latest" when neither a tag nor a digest was given:
  // "nginx" -> "docker.io/library/nginx:latest", the name images are stored and listed under.
  std::string Normalized() const {
    std::string out = Registry() + "/" + Repository();
    if (!TagOrLatest().empty()) out += ":" + TagOrLatest();
    if (!digest.empty()) out += "@" + digest;
    return out;
  }
  // registry/repository@digest, the name an image pulled by tag is also known by.
  std::string WithDigest(const std::string& d) const { return Registry() + "/" + Repository() + "@" + d; }
};

// kInvalidArgument naming what is wrong ("invalid reference format: repository name must be
// lowercase") for anything the distribution grammar refuses.
absl::StatusOr<Reference> ParseReference(std::string_view reference);

}  // namespace berth::image
