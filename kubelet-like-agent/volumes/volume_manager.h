#pragma once
// File: kubelet-like-agent/volumes/volume_manager.h
// A pod's volumes on this machine, under its sandbox (<pods dir>/<uid>/volumes/<name>):
// emptyDir (a directory that lives as long as the pod), hostPath (the host's path, created for
// DirectoryOrCreate/FileOrCreate), configMap and secret (one file per key, rewritten in place
// when the object changes, so a running container sees new values through its bind mount),
// downwardAPI, and projected volumes of those plus serviceAccountToken: a token bound to the pod,
// asked of the apiserver (TokenRequest) and asked again once 80% of its lifetime has passed, as
// the kubelet's token manager does. Files get defaultMode / items[].mode (0644 by default).
// With memory_backed, secret and projected volumes live on a per-volume tmpfs, so no Secret or
// token ever reaches the node's disk.
// Also resolves container env: values, configMapKeyRef, secretKeyRef, fieldRef, and
// $(VAR) references in command and args.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <mutex>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/client/api_client.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::agent {

struct PodFields {
  std::string node_name, pod_ip, host_ip;
};

struct VolumeManagerOptions {
  bool memory_backed = false;  // secret and projected volumes on tmpfs (needs CAP_SYS_ADMIN)
  const Clock* clock = &RealClock::Get();
};

// One file of a volume: its bytes and mode.
struct VolumeFile {
  std::string content;
  int mode = 0644;
};
using VolumeFiles = std::map<std::string, VolumeFile>;  // relative path -> file

class VolumeManager {
 public:
  // `api` may be null (hollow nodes: no configMap/secret content or token is fetched).
  VolumeManager(client::ApiClient* api, std::string pods_dir, std::string node_address = "127.0.0.1",
                VolumeManagerOptions options = {})
      : api_(api), pods_dir_(std::move(pods_dir)), node_address_(std::move(node_address)), options_(options) {}

  std::string PodDir(const std::string& uid) const { return pods_dir_ + "/" + uid; }
  // Creates or refreshes every volume; volume name -> host path. kNotFound names a missing
  // configMap/secret (or key); the container then waits with CreateContainerConfigError.
  absl::StatusOr<std::map<std::string, std::string>> Prepare(const json::Value& pod);
  absl::StatusOr<std::vector<std::string>> Env(const json::Value& pod, const json::Value& container,
                                               const PodFields& fields);
  // Unmounts every pod's tmpfs volumes and forgets every token (a drained agent's last step).
  void UnmountAll();
  // Unmounts the pod's tmpfs volumes and removes its sandbox (volumes, logs); forgets its tokens.
  absl::Status Cleanup(const std::string& uid);

  // The decoded data of a Secret ("secret") or ConfigMap ("configMap"); empty when it is
  // missing and `optional`. Also the source of a pod's imagePullSecrets.
  absl::StatusOr<std::map<std::string, std::string>> SourceData(const std::string& kind, const std::string& ns,
                                                                const std::string& name, bool optional);

 private:
  // configMap/secret files (all keys, or the items) of one source.
  absl::StatusOr<VolumeFiles> KeyFiles(const std::string& kind, const std::string& ns, const json::Value& src,
                                       const std::string& object, int default_mode);
  // downwardAPI items (fieldRef) as files.
  absl::StatusOr<VolumeFiles> DownwardFiles(const json::Value& pod, const json::Value& items, const std::string& volume,
                                            int default_mode);
  // A projected serviceAccountToken source: the pod's current token, asked for when there is
  // none yet or the one held is past 80% of its life.
  absl::StatusOr<VolumeFiles> TokenFiles(const json::Value& pod, const std::string& volume, const json::Value& src,
                                         int default_mode);
  // Makes `dir` hold exactly `files` (rewritten only when changed, atomically).
  absl::Status WriteFiles(const std::string& name, const std::filesystem::path& dir, const VolumeFiles& files);
  // Mounts a tmpfs on `dir` unless one is there (memory_backed).
  absl::Status EnsureMemoryBacked(const std::filesystem::path& dir);

  struct HeldToken {
    std::string token;
    absl::Time issued, expires;
  };
  absl::StatusOr<std::string> KeyRef(const std::string& kind, const std::string& ns, const json::Value& ref);

  client::ApiClient* api_;
  const std::string pods_dir_;
  const std::string node_address_;
  const VolumeManagerOptions options_;
  std::mutex tokens_mu_;
  std::map<std::string, HeldToken> tokens_;  // "<pod uid>/<volume>/<path>" -> token
};

// fsGroup ownership of a volume Berth made: group `gid` on everything under `dir`, setgid and
// group rwx on directories, group read on files.
void GiveToGroup(const std::filesystem::path& dir, gid_t gid);

// hostPath.type as Kubernetes checks it ("", DirectoryOrCreate, Directory, FileOrCreate, File,
// Socket, CharDevice, BlockDevice), creating what the *OrCreate types create.
absl::Status CheckHostPath(const std::string& path, const std::string& type);

// Kubernetes' $(VAR) expansion: known names are replaced, $$ escapes, unknown stay as written.
std::string ExpandVars(const std::string& text, const std::map<std::string, std::string>& env);

}  // namespace berth::agent
