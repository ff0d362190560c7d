#pragma once
// File: kubelet-like-agent/security/client_cert_rotation.h
// The kubelet's client certificate rotation (--rotate-certificates): the agent's certificate,
// kept with its key in the credential file its kubeconfig names (agent-client-current.pem), is
// renewed once a jittered 70-90 % of the life it had left when first seen has passed. Renewing
// is a new CertificateSigningRequest sent with the node's current identity, which the
// controller-manager approves (certificatesigningrequests/selfnodeclient) and signs; the file is
// then replaced atomically, and every new connection of the agent's client presents the new
// certificate. A failed attempt is retried after `retry` while the old certificate lasts.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/pki/certificates.h"
#include "core/time/clock.h"

namespace berth::agent {

class ClientCertRotator {
 public:
  // Sends the request and waits for the certificate (RequestNodeClientCertificate in the agent),
  // giving up when `cancelled` says so (the agent stops).
  using Issuer = std::function<absl::StatusOr<pki::KeyPair>(const std::function<bool()>& cancelled)>;
  // `jitter` picks the fraction of the remaining life to wait, in [0.7, 0.9]; unset: random.
  ClientCertRotator(std::string credential_file, Issuer issue, const Clock& clock = RealClock::Get(),
                    absl::Duration retry = absl::Seconds(30), std::function<double()> jitter = {});
  ~ClientCertRotator();

  void Start();
  void Stop();

  // One look at the credential file: renews the certificate when its time has come; returns
  // when to look again. (The thread's step; tests call it with a fake clock.)
  absl::Time Step();
  // When the certificate in the file now is due (computed once per certificate).
  absl::StatusOr<absl::Time> Deadline();

 private:
  const std::string credential_file_;
  const Issuer issue_;
  const Clock& clock_;
  const absl::Duration retry_;
  std::function<double()> jitter_;
  std::string serial_;  // of the certificate the deadline is for
  absl::Time deadline_;
  absl::Time not_after_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::agent
