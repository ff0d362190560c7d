#include "kubelet-like-agent/images/registry_config.h"

#include <fstream>

#include "absl/strings/escaping.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "core/yaml/yaml_codec.h"

namespace berth::agent::images {
namespace {

std::string HostOf(std::string_view key) {
  std::string_view s = key;
  if (size_t scheme = s.find("://"); scheme != std::string_view::npos) s = s.substr(scheme + 3);
  s = s.substr(0, s.find('/'));
  if (s == "index.docker.io" || s == "registry-1.docker.io" || s == "registry.hub.docker.com") return "docker.io";
  return std::string(s);
}

}  // namespace

bool IsLoopbackHost(std::string_view host_port) {
  std::string_view host = host_port;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::vector<RegistryEndpoint> RegistryConfig::EndpointsFor(const std::string& registry) const {
  std::vector<RegistryEndpoint> out;
  auto it = hosts.find(registry);
  RegistrySettings none;
  const RegistrySettings& s = it == hosts.end() ? none : it->second;
  for (const std::string& m : s.mirrors) {
    std::string url = m;
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (url.find("://") == std::string::npos) url = "https://" + url;
    out.push_back({url, s.ca_file, s.skip_verify, true});
  }
  std::string host = registry == "docker.io" ? "registry-1.docker.io" : registry;
  bool plain = s.insecure || IsLoopbackHost(registry);
  out.push_back({StrCat(plain ? "http://" : "https://", host), s.ca_file, s.skip_verify, false});
  return out;
}

Credentials RegistryConfig::CredentialsFor(const std::string& registry) const {
  auto it = hosts.find(registry);
  return it == hosts.end() ? Credentials{} : it->second.credentials;
}

absl::StatusOr<RegistryConfig> ParseRegistryConfig(std::string_view text) {
  auto doc = yaml::ParseSingle(text);
  if (!doc.ok()) return absl::InvalidArgumentError(StrCat("registry configuration: ", doc.status().message()));
  RegistryConfig config;
  if (doc->is_null()) return config;
  if (!doc->is_object()) return absl::InvalidArgumentError("registry configuration: expected a mapping with \"registries\"");
  const json::Value* registries = doc->Find("registries");
  if (registries == nullptr || registries->is_null()) return config;
  if (!registries->is_object()) return absl::InvalidArgumentError("registry configuration: registries must be a mapping by host");
  for (const auto& [host, v] : registries->as_object()) {
    if (!v.is_object()) return absl::InvalidArgumentError(StrCat("registry configuration: registries.", host, " must be a mapping"));
    RegistrySettings s;
    for (const auto& [key, field] : v.as_object()) {
      std::string where = StrCat("registries.", host, ".", key);
      if (key == "mirrors") {
        if (!field.is_array()) return absl::InvalidArgumentError(StrCat("registry configuration: ", where, " must be a list of URLs"));
        for (const json::Value& m : field.as_array()) {
          if (!m.is_string()) return absl::InvalidArgumentError(StrCat("registry configuration: ", where, " must be a list of URLs"));
          s.mirrors.push_back(m.as_string());
        }
      } else if (key == "insecure" || key == "skipVerify") {
        if (!field.is_bool()) return absl::InvalidArgumentError(StrCat("registry configuration: ", where, " must be true or false"));
        (key == "insecure" ? s.insecure : s.skip_verify) = field.as_bool();
      } else if (key == "caFile" || key == "username" || key == "password" || key == "auth") {
        if (!field.is_string()) return absl::InvalidArgumentError(StrCat("registry configuration: ", where, " must be a string"));
        if (key == "caFile") s.ca_file = field.as_string();
        if (key == "username") s.credentials.username = field.as_string();
        if (key == "password") s.credentials.password = field.as_string();
        if (key == "auth") {
          std::string decoded;
          if (!absl::Base64Unescape(field.as_string(), &decoded) || decoded.find(':') == std::string::npos) {
            return absl::InvalidArgumentError(StrCat("registry configuration: ", where, " must be base64 of user:password"));
          }
          s.credentials.username = decoded.substr(0, decoded.find(':'));
          s.credentials.password = decoded.substr(decoded.find(':') + 1);
        }
      } else {
        // Refused, not ignored: a misspelt key would silently weaken what the node does.
        return absl::InvalidArgumentError(StrCat("registry configuration: unknown field ", where,
                                                 " (known: mirrors, insecure, skipVerify, caFile, username, password, auth)"));
      }
    }
    config.hosts[HostOf(host)] = std::move(s);
  }
  return config;
}

absl::StatusOr<RegistryConfig> LoadRegistryConfig(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(StrCat("registry configuration ", path, " cannot be read"));
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return ParseRegistryConfig(text);
}

absl::StatusOr<std::map<std::string, Credentials>> ParseDockerConfigJson(std::string_view text) {
  auto doc = json::Parse(text);
  if (!doc.ok() || !doc->is_object()) return absl::InvalidArgumentError(".dockerconfigjson is not a JSON object");
  std::map<std::string, Credentials> out;
  // .dockerconfigjson wraps the map in "auths"; the legacy .dockercfg is the map itself.
  const json::Value* auths = doc->Find("auths");
  if (auths == nullptr) auths = &*doc;
  if (!auths->is_object()) return out;
  for (const auto& [key, v] : auths->as_object()) {
    if (!v.is_object()) continue;
    Credentials c{v.GetString({"username"}), v.GetString({"password"})};
    std::string auth = v.GetString({"auth"});
    if (!auth.empty()) {
      std::string decoded;
      if (!absl::Base64Unescape(auth, &decoded) || decoded.find(':') == std::string::npos) {
        return absl::InvalidArgumentError(StrCat(".dockerconfigjson auths[\"", key, "\"].auth is not base64 of user:password"));
      }
      c.username = decoded.substr(0, decoded.find(':'));
      c.password = decoded.substr(decoded.find(':') + 1);
    }
    out[HostOf(key)] = c;
  }
  return out;
}

}  // namespace berth::agent::images
