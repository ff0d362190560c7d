#pragma once
// File: kubelet-like-agent/sync/image_process.h
// How a container's process comes from its spec and its image's config, by Kubernetes' rules:
// command replaces the image's Entrypoint (and drops its Cmd), args replace Cmd; the image's
// Env comes first and the container's env overrides it by name; workingDir overrides
// WorkingDir; runAsUser/runAsGroup override the image's User ("uid", "uid:gid", or names
// looked up in the image's /etc/passwd and /etc/group).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent {

// `command`/`args` null when the container does not set them (expanded already).
std::vector<std::string> ResolveArgv(const std::vector<std::string>* command, const std::vector<std::string>* args,
                                     const std::vector<std::string>& entrypoint, const std::vector<std::string>& cmd);

// "K=V" lists: the image's first, the container's replacing same-named ones.
std::vector<std::string> MergeEnv(const std::vector<std::string>& image_env, const std::vector<std::string>& container_env);

struct ImageUser {
  std::optional<uint32_t> uid, gid;
  std::string unresolved_name;  // a user name the image's files do not resolve (runAsNonRoot cannot verify it)
};

// `user` from the image config; `layers` the image's unpacked layers, top first (the first
// one holding etc/passwd wins, as the merged root file system would show it).
ImageUser ResolveImageUser(const std::string& user, const std::vector<std::string>& layers);

}  // namespace berth::agent
