// Reads kubeconfig files (clientcmd's v1 Config) into a Connection.

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "core/client/connection.h"
#include "core/strings/strings.h"
#include "core/yaml/yaml_codec.h"

namespace berth::client {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The entry named `name` in a list like `clusters: [{name, cluster: {...}}]`, its `field` member.
const json::Value* Named(const json::Value& config, std::string_view list, const std::string& name,
                         std::string_view field) {
  const json::Value* entries = config.Find(list);
  if (entries == nullptr || !entries->is_array()) return nullptr;
  for (const json::Value& entry : entries->as_array()) {
    if (entry.GetString({"name"}) == name) return entry.Find(field);
  }
  return nullptr;
}

// `<key>-data` (base64) or `<key>` (a path relative to the kubeconfig's folder); "" when neither.
absl::StatusOr<std::string> DataOrFile(const json::Value& section, const std::string& key, const std::string& base_dir,
                                       const std::string& where) {
  std::string data = section.GetString({key + "-data"});
  if (!data.empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(data, &decoded)) return absl::InvalidArgumentError(StrCat(where, ".", key, "-data: not base64"));
    return decoded;
  }
  std::string path = section.GetString({key});
  if (path.empty()) return std::string();
  if (path[0] != '/') path = StrCat(base_dir, "/", path);
  auto text = ReadFile(path);
  if (!text.ok()) return absl::InvalidArgumentError(StrCat(where, ".", key, ": ", text.status().message()));
  return text;
}

// The resolved path `<key>` names, when the section uses a file rather than `<key>-data`.
std::string FileOf(const json::Value& section, const std::string& key, const std::string& base_dir) {
  std::string path = section.GetString({key});
  if (!section.GetString({key + "-data"}).empty() || path.empty()) return "";
  return path[0] == '/' ? path : StrCat(base_dir, "/", path);
}

}  // namespace

absl::StatusOr<Connection> ParseKubeconfig(std::string_view text, const std::string& path, const std::string& base_dir) {
  auto parsed = yaml::ParseSingle(text);
  if (!parsed.ok()) return absl::InvalidArgumentError(StrCat(path, ": ", parsed.status().message()));
  const json::Value& config = *parsed;
  std::string context_name = config.GetString({"current-context"});
  if (context_name.empty()) return absl::InvalidArgumentError(StrCat(path, ": no current-context"));
  const json::Value* context = Named(config, "contexts", context_name, "context");
  if (context == nullptr) return absl::InvalidArgumentError(StrCat(path, ": context \"", context_name, "\" not found"));
  std::string cluster_name = context->GetString({"cluster"});
  const json::Value* cluster = Named(config, "clusters", cluster_name, "cluster");
  if (cluster == nullptr) return absl::InvalidArgumentError(StrCat(path, ": cluster \"", cluster_name, "\" not found"));

  Connection c;
  c.server = cluster->GetString({"server"});
  if (c.server.empty()) return absl::InvalidArgumentError(StrCat(path, ": cluster \"", cluster_name, "\" has no server"));
  if (const json::Value* skip = cluster->Find("insecure-skip-tls-verify"); skip && skip->is_bool()) {
    c.insecure_skip_tls_verify = skip->as_bool();
  }
  auto ca = DataOrFile(*cluster, "certificate-authority", base_dir, StrCat(path, ": clusters[", cluster_name, "]"));
  if (!ca.ok()) return ca.status();
  c.ca_pem = *std::move(ca);

  std::string user_name = context->GetString({"user"});
  if (user_name.empty()) return c;
  const json::Value* user = Named(config, "users", user_name, "user");
  if (user == nullptr) return absl::InvalidArgumentError(StrCat(path, ": user \"", user_name, "\" not found"));
  for (const char* unsupported : {"exec", "auth-provider", "username", "password", "as", "as-groups"}) {
    if (user->Find(unsupported) != nullptr) {
      return absl::UnimplementedError(
          StrCat(path, ": users[", user_name, "].", unsupported, " is not supported (use a client certificate or a token)"));
    }
  }
  std::string where = StrCat(path, ": users[", user_name, "]");
  auto cert = DataOrFile(*user, "client-certificate", base_dir, where);
  if (!cert.ok()) return cert.status();
  auto key = DataOrFile(*user, "client-key", base_dir, where);
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) return absl::InvalidArgumentError(StrCat(where, ": a client certificate needs its key"));
  c.client_cert_pem = *std::move(cert);
  c.client_key_pem = *std::move(key);
  c.client_cert_file = FileOf(*user, "client-certificate", base_dir);
  c.client_key_file = FileOf(*user, "client-key", base_dir);
  c.bearer_token = user->GetString({"token"});
  if (std::string token_file = user->GetString({"tokenFile"}); c.bearer_token.empty() && !token_file.empty()) {
    if (token_file[0] != '/') token_file = StrCat(base_dir, "/", token_file);
    auto token = ReadFile(token_file);
    if (!token.ok()) return absl::InvalidArgumentError(StrCat(where, ".tokenFile: ", token.status().message()));
    c.bearer_token = std::string(Strip(*token));
  }
  return c;
}

absl::StatusOr<Connection> LoadKubeconfig(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::string base_dir = std::filesystem::path(path).parent_path().string();
  if (base_dir.empty()) base_dir = ".";
  return ParseKubeconfig(*text, path, base_dir);
}

absl::StatusOr<Connection> ConnectionFromFlags(const std::string& kubeconfig, const std::string& server) {
  Connection c;
  if (!kubeconfig.empty()) {
    auto loaded = LoadKubeconfig(kubeconfig);
    if (!loaded.ok()) return loaded.status();
    c = *std::move(loaded);
  }
  if (!server.empty()) c.server = server;
  if (c.server.empty()) return absl::InvalidArgumentError("--kubeconfig or --server is required");
  return c;
}

}  // namespace berth::client
