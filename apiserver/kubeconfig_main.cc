// berth-kubeconfig: writes a kubeconfig that trusts the cluster's server CA and carries a fresh
// client certificate of its client CA (CN = --user, O = --groups), as k3s writes its k3s.yaml and
// component kubeconfigs. `berth up` makes the admin, controller-manager and agent kubeconfigs
// with it; an operator makes more (`berth kubeconfig --user alice --groups dev --out alice.yaml`).

#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "core/flags/dashed_flags.h"
#include "core/pki/cluster_pki.h"
#include "core/pki/private_files.h"
#include "core/time/clock.h"

ABSL_FLAG(std::string, cert_dir, "", "the apiserver's certificate directory (berth up: DATA_DIR/tls)");
ABSL_FLAG(std::string, server, "", "the API URL the kubeconfig points at (https://HOST:PORT)");
ABSL_FLAG(std::string, user, "", "the user name (certificate CN), e.g. system:admin or system:node:NAME");
ABSL_FLAG(std::vector<std::string>, groups, {}, "the groups (certificate O values), e.g. system:masters");
ABSL_FLAG(std::string, out, "", "the file to write (mode 0600, replaced atomically)");
ABSL_FLAG(std::string, pem_out, "",
          "also write the client certificate and key as PREFIX.crt and PREFIX.key (for curl --cert/--key)");

int main(int argc, char** argv) {
  umask(077);
  berth::flags::ParseFlagsAndBlockSignals(
      argc, argv, "berth-kubeconfig --cert-dir DIR --server URL --user NAME [--groups G1,G2] --out FILE");
  for (const auto& [name, value] : {std::pair{"--cert-dir", absl::GetFlag(FLAGS_cert_dir)},
                                    std::pair{"--server", absl::GetFlag(FLAGS_server)},
                                    std::pair{"--user", absl::GetFlag(FLAGS_user)},
                                    std::pair{"--out", absl::GetFlag(FLAGS_out)}}) {
    if (value.empty()) {
      std::fprintf(stderr, "%s is required\n", name);
      return 2;
    }
  }
  const std::string dir = absl::GetFlag(FLAGS_cert_dir);
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "berth-kubeconfig: %s\n", std::string(s.message()).c_str());
    return 1;
  };
  auto client = berth::pki::IssueClientCertificate(dir, absl::GetFlag(FLAGS_user), absl::GetFlag(FLAGS_groups),
                                                   berth::RealClock::Get());
  if (!client.ok()) return fail(client.status());
  auto text = berth::pki::ClientKubeconfig(dir, absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_user), *client);
  if (!text.ok()) return fail(text.status());
  if (absl::Status s = berth::pki::WritePrivateFile(absl::GetFlag(FLAGS_out), *text); !s.ok()) return fail(s);
  if (const std::string prefix = absl::GetFlag(FLAGS_pem_out); !prefix.empty()) {
    if (absl::Status s = berth::pki::WritePrivateFile(prefix + ".key", client->key_pem); !s.ok()) return fail(s);
    if (absl::Status s = berth::pki::WritePrivateFile(prefix + ".crt", client->cert_pem); !s.ok()) return fail(s);
  }
  return 0;
}
