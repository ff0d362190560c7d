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
#include "core/client/connection.h"
#include "core/pki/cluster_pki.h"
#include "core/pki/private_files.h"
#include "core/time/clock.h"

ABSL_FLAG(std::string, cert_dir, "", "the apiserver's certificate directory (berth up: DATA_DIR/tls)");
ABSL_FLAG(std::string, server, "", "the API URL the kubeconfig points at (https://HOST:PORT)");
ABSL_FLAG(std::string, user, "", "the user name (certificate CN), e.g. system:admin or system:node:NAME");
ABSL_FLAG(std::vector<std::string>, groups, {}, "the groups (certificate O values), e.g. system:masters");
ABSL_FLAG(std::string, out, "", "the file to write (mode 0600, replaced atomically)");
ABSL_FLAG(bool, keep_valid, false,
          "leave --out (and --pem-out) as they are when they already hold a valid credential for this server, "
          "user and groups (berth up: restarts do not rewrite files clients are reading)");
ABSL_FLAG(std::string, pem_out, "",
          "also write the client certificate and key as PREFIX.crt and PREFIX.key (for curl --cert/--key)");

namespace {

// The credential of an existing --out (and --pem-out) when it still does: same server, user and
// groups, signed by the client CA, its key, more than 90 days left.
absl::Status ReusableCredential(const std::string& dir, const std::string& out, const std::string& server) {
  auto connection = berth::client::LoadKubeconfig(out);
  if (!connection.ok()) return connection.status();
  if (connection->server != server) return absl::FailedPreconditionError("another server");
  const std::string& cert = connection->client_cert_pem;
  auto ca = berth::pki::ReadWholeFile(berth::pki::FilesIn(dir).client_ca_cert);
  if (!ca.ok()) return ca.status();
  auto info = berth::pki::Inspect(cert);
  if (!info.ok()) return info.status();
  std::vector<std::string> groups = absl::GetFlag(FLAGS_groups);
  if (info->common_name != absl::GetFlag(FLAGS_user) || info->organizations != groups ||
      !berth::pki::SignedBy(cert, *ca) || !berth::pki::KeyMatches(cert, connection->client_key_pem) ||
      info->not_after - berth::RealClock::Get().Now() <= berth::pki::kRenewBefore) {
    return absl::FailedPreconditionError("renew");
  }
  if (const std::string prefix = absl::GetFlag(FLAGS_pem_out); !prefix.empty()) {
    auto pem_cert = berth::pki::ReadWholeFile(prefix + ".crt");
    auto pem_key = berth::pki::ReadWholeFile(prefix + ".key");
    if (!pem_cert.ok() || !pem_key.ok() || *pem_cert != cert || *pem_key != connection->client_key_pem) {
      return absl::FailedPreconditionError("the PEM files differ");
    }
  }
  return absl::OkStatus();
}

}  // namespace

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
  absl::StatusOr<berth::pki::KeyPair> client = absl::NotFoundError("none yet");
  if (absl::GetFlag(FLAGS_keep_valid)) {
    if (auto existing = ReusableCredential(dir, absl::GetFlag(FLAGS_out), absl::GetFlag(FLAGS_server)); existing.ok()) {
      return 0;  // nothing rewritten: a client reading the files meanwhile never sees a new cert beside an old key
    }
  }
  client = berth::pki::IssueClientCertificate(dir, absl::GetFlag(FLAGS_user), absl::GetFlag(FLAGS_groups),
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
