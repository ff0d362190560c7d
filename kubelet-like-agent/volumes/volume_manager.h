#pragma once
// File: kubelet-like-agent/volumes/volume_manager.h
// A pod's volumes on this machine, under its sandbox (<pods dir>/<uid>/volumes/<name>):
// emptyDir (a directory that lives as long as the pod), hostPath (the host's path, created for
// DirectoryOrCreate/FileOrCreate), configMap and secret (one file per key, rewritten in place
// when the object changes, so a running container sees new values through its bind mount).
// Also resolves container env: values, configMapKeyRef, secretKeyRef, fieldRef, and
// $(VAR) references in command and args.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/client/api_client.h"
#include "core/json/value.h"

namespace berth::agent {

struct PodFields {
  std::string node_name, pod_ip, host_ip;
};

class VolumeManager {
 public:
  // `api` may be null (hollow nodes: no configMap/secret content is fetched).
  VolumeManager(client::ApiClient* api, std::string pods_dir, std::string node_address = "127.0.0.1")
      : api_(api), pods_dir_(std::move(pods_dir)), node_address_(std::move(node_address)) {}

  std::string PodDir(const std::string& uid) const { return pods_dir_ + "/" + uid; }
  // Creates or refreshes every volume; volume name -> host path. kNotFound names a missing
  // configMap/secret (or key); the container then waits with CreateContainerConfigError.
  absl::StatusOr<std::map<std::string, std::string>> Prepare(const json::Value& pod);
  absl::StatusOr<std::vector<std::string>> Env(const json::Value& pod, const json::Value& container,
                                               const PodFields& fields);
  // Removes the pod's sandbox (volumes, logs). Paths under it must not be mounted.
  absl::Status Cleanup(const std::string& uid);

  // The decoded data of a Secret ("secret") or ConfigMap ("configMap"); empty when it is
  // missing and `optional`. Also the source of a pod's imagePullSecrets.
  absl::StatusOr<std::map<std::string, std::string>> SourceData(const std::string& kind, const std::string& ns,
                                                                const std::string& name, bool optional);

 private:
  // configMap/secret files (all keys, or the items) of one source.
  absl::StatusOr<std::map<std::string, std::string>> KeyFiles(const std::string& kind, const std::string& ns,
                                                              const json::Value& src, const std::string& object);
  // downwardAPI items (fieldRef) as files.
  absl::StatusOr<std::map<std::string, std::string>> DownwardFiles(const json::Value& pod, const json::Value& items,
                                                                   const std::string& volume);
  // Makes `dir` hold exactly `files` (rewritten only when changed, atomically).
  absl::Status WriteFiles(const std::string& name, const std::filesystem::path& dir,
                          const std::map<std::string, std::string>& files);
  absl::StatusOr<std::string> KeyRef(const std::string& kind, const std::string& ns, const json::Value& ref);

  client::ApiClient* api_;
  const std::string pods_dir_;
  const std::string node_address_;
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
