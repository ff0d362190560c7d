#include "kubelet-like-agent/security/client_cert_rotation.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "core/log/log.h"
#include "core/pki/private_files.h"
#include "core/strings/strings.h"

namespace berth::agent {
ClientCertRotator::ClientCertRotator(std::string credential_file, Issuer issue, const Clock& clock, absl::Duration retry,
                                     std::function<double()> jitter)
    : credential_file_(std::move(credential_file)),
      issue_(std::move(issue)),
      clock_(clock),
      retry_(retry),
      jitter_(std::move(jitter)) {
  if (!jitter_) {
    jitter_ = [gen = std::make_shared<std::mt19937_64>(std::random_device{}())] {
      return std::uniform_real_distribution<double>(0.7, 0.9)(*gen);
    };
  }
}

ClientCertRotator::~ClientCertRotator() { Stop(); }

absl::StatusOr<absl::Time> ClientCertRotator::Deadline() {
  auto pem = pki::ReadWholeFile(credential_file_);
  if (!pem.ok()) return pem.status();
  auto info = pki::Inspect(*pem);
  if (!info.ok()) return info.status();
  if (info->serial_hex != serial_) {
    // Measured from when this certificate was first seen, not from its notBefore: signers
    // backdate notBefore (an hour here), which would make a short-lived certificate look due
    // at once, again and again. A fresh certificate is first seen when it is issued.
    const absl::Time seen = std::max(clock_.Now(), info->not_before);
    serial_ = info->serial_hex;
    not_after_ = info->not_after;
    deadline_ = seen + (info->not_after - seen) * jitter_();
    BERTH_LOG(Info, "agent", "Client certificate rotation scheduled", "expires", absl::FormatTime(not_after_),
              "rotates", absl::FormatTime(deadline_));
  }
  return deadline_;
}

absl::Time ClientCertRotator::Step() {
  const absl::Time now = clock_.Now();
  auto deadline = Deadline();
  if (!deadline.ok()) {
    BERTH_LOG(Error, "agent", "Client certificate unreadable", "file", credential_file_, "error",
              deadline.status().ToString());
    return now + retry_;
  }
  if (now < *deadline) return *deadline;
  auto issued = issue_([this] {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  });
  absl::Status written = issued.ok() ? pki::WritePrivateFile(credential_file_, issued->cert_pem + issued->key_pem)
                                     : issued.status();
  if (!written.ok()) {
    BERTH_LOG(Error, "agent", "Client certificate rotation failed", "error", written.ToString(), "expires",
              absl::FormatTime(not_after_));
    return clock_.Now() + retry_;
  }
  BERTH_LOG(Info, "agent", "Client certificate rotated", "file", credential_file_);
  auto next = Deadline();
  return next.ok() ? *next : clock_.Now() + retry_;
}

void ClientCertRotator::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    absl::Time next = clock_.Now();
    while (!stopping_) {
      if (clock_.Now() >= next) {
        lock.unlock();
        next = Step();
        lock.lock();
        continue;
      }
      // In steps of at most a second, so a clock that jumps is noticed soon.
      absl::Duration wait = std::min(next - clock_.Now(), absl::Seconds(1));
      cv_.wait_for(lock, absl::ToChronoMilliseconds(std::max(wait, absl::Milliseconds(1))));
    }
  });
}

void ClientCertRotator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace berth::agent
