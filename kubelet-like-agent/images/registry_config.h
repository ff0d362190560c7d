#pragma once
// File: kubelet-like-agent/images/registry_config.h
// Where the node may pull from and with what: the node's registry configuration (a YAML or
// JSON file, `--registry-config`) and the credentials of a pod's imagePullSecrets
// (kubernetes.io/dockerconfigjson). The agent talks to no registry but the ones an image
// reference or this configuration names.
//
//   registries:
//     "localhost:5000": {insecure: true}          # plain HTTP (loopback hosts are by default)
//     "registry.example.com":
//       mirrors: ["https://mirror.internal"]      # tried first, in order
//       caFile: /etc/berth/registry-ca.pem
//       username: robot
//       password: secret

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent::images {

struct Credentials {
  std::string username, password;
  bool empty() const { return username.empty() && password.empty(); }
};

struct RegistryEndpoint {
  std::string base_url;  // scheme://host[:port], no trailing slash
  std::string ca_file;
  bool skip_verify = false;
  bool is_mirror = false;
};

struct RegistrySettings {
  std::vector<std::string> mirrors;
  bool insecure = false;
  bool skip_verify = false;
  std::string ca_file;
  Credentials credentials;
};

struct RegistryConfig {
  std::map<std::string, RegistrySettings> hosts;  // by registry host[:port] ("docker.io")

  // Mirrors first, then the registry itself: https, or http for an insecure or loopback host
  // (as Docker treats 127.0.0.0/8). docker.io is served at registry-1.docker.io.
  std::vector<RegistryEndpoint> EndpointsFor(const std::string& registry) const;
  Credentials CredentialsFor(const std::string& registry) const;
};

absl::StatusOr<RegistryConfig> ParseRegistryConfig(std::string_view text);
absl::StatusOr<RegistryConfig> LoadRegistryConfig(const std::string& path);

// The "auths" of a .dockerconfigjson, by registry host (keys such as
// "https://index.docker.io/v1/" or "http://localhost:5000/v2/" reduced to host[:port], Docker
// Hub's to docker.io); `auth` is base64 "user:password".
absl::StatusOr<std::map<std::string, Credentials>> ParseDockerConfigJson(std::string_view text);

bool IsLoopbackHost(std::string_view host_port);

}  // namespace berth::agent::images
