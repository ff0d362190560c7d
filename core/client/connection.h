#pragma once
// File: core/client/connection.h
// Where a client connects and how it proves who it is: the server URL, the CA it trusts (only that
// CA: a cluster CA never shares trust with the system's public roots), and a client certificate or
// a bearer token. Read from a kubeconfig as kubectl reads it, or given as a bare URL.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace berth::client {

struct Connection {
  std::string server;  // https://host:port (or http:// for a loopback development server)
  std::string ca_pem;  // trusted CA(s); empty: the system's roots
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem;
  std::string client_key_pem;
  // Set when the kubeconfig names files (client-certificate, client-key) rather than -data:
  // they are read again for every new connection, so a certificate replaced in place (the
  // agent's rotation) is used from then on; the PEMs above are the fallback.
  std::string client_cert_file;
  std::string client_key_file;
  std::string bearer_token;
};

// The current context of a kubeconfig (clusters/users/contexts; *-data or file paths relative to
// the kubeconfig's folder; token or tokenFile). Credentials Berth cannot use (exec, auth-provider,
// username/password) are refused by name rather than ignored.
absl::StatusOr<Connection> LoadKubeconfig(const std::string& path);
// The same from the file's text; `path` names it in errors, `base_dir` resolves relative file
// references (certificate-authority, client-certificate, tokenFile, ...).
absl::StatusOr<Connection> ParseKubeconfig(std::string_view text, const std::string& path, const std::string& base_dir);

// The usual pair of component flags: --kubeconfig, then --server overriding its server (or alone,
// an unauthenticated connection: the development setup).
absl::StatusOr<Connection> ConnectionFromFlags(const std::string& kubeconfig, const std::string& server);

}  // namespace berth::client
