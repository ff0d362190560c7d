#include "controllers/builtin/certificates/csr_signer.h"

#include "absl/strings/escaping.h"
#include "controllers/builtin/certificates/csr_rules.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

CsrSigner::CsrSigner(client::ApiClient& api, Informer& csrs, pki::KeyPair ca, absl::Duration default_duration,
                     const Clock& clock)
    : api_(api),
      csrs_(csrs),
      ca_(std::move(ca)),
      default_duration_(default_duration),
      clock_(clock),
      controller_("csrsigning", *this, clock, 1) {
  auto changed = [this](const ObjectPtr& o) { controller_.Enqueue(o->GetString({"metadata", "name"})); };
  csrs_.AddHandlers({changed, [changed](const ObjectPtr&, const ObjectPtr& o) { changed(o); }, nullptr});
}

absl::Status CsrSigner::Fail(const json::Value& csr, const std::string& message) {
  json::Value next = csr;
  json::Value cond = json::Value::MakeObject();
  cond.Set("type", "Failed");
  cond.Set("status", "True");
  cond.Set("reason", "SignerValidationFailure");
  cond.Set("message", message);
  std::string now = FormatRfc3339(clock_.Now());
  cond.Set("lastUpdateTime", now);
  cond.Set("lastTransitionTime", now);
  json::Value& conds = next.Ensure({"status", "conditions"});
  if (!conds.is_array()) conds = json::Value::MakeArray();
  conds.as_array().push_back(std::move(cond));
  return api_.UpdateStatus(client::resources::kCertificateSigningRequests, next).status();
}

absl::StatusOr<Result> CsrSigner::Reconcile(const Request& request, std::stop_token) {
  ObjectPtr csr = csrs_.Get(request.Key());
  if (csr == nullptr || !HasCondition(*csr, "Approved") || HasCondition(*csr, "Denied") || HasCondition(*csr, "Failed") ||
      !csr->GetString({"status", "certificate"}).empty()) {
    return Result{};
  }
  const std::string signer = csr->GetString({"spec", "signerName"});
  if (signer != kKubeletClientSigner && signer != kApiServerClientSigner) return Result{};
  auto pem = RequestPem(*csr);
  if (!pem.ok()) {
    if (absl::Status s = Fail(*csr, std::string(pem.status().message())); !s.ok()) return s;
    return Result{};
  }
  auto info = pki::InspectCertificateRequest(*pem);
  if (!info.ok()) {
    if (absl::Status s = Fail(*csr, std::string(info.status().message())); !s.ok()) return s;
    return Result{};
  }
  if (signer == kKubeletClientSigner) {
    if (std::string why = NodeClientProblem(*csr, *info); !why.empty()) {
      if (absl::Status s = Fail(*csr, why); !s.ok()) return s;
      return Result{};
    }
  }
  absl::Duration duration = default_duration_;
  if (const json::Value* e = csr->Get({"spec", "expirationSeconds"}); e && e->is_int()) {
    duration = std::min(duration, absl::Seconds(e->as_int()));
  }
  auto cert = pki::SignCertificateRequest(*pem, ca_, pki::Usage::kClient, duration, clock_.Now());
  if (!cert.ok()) return cert.status();
  json::Value next = *csr;
  next.Ensure({"status"}).Set("certificate", absl::Base64Escape(*cert));
  absl::Status s = api_.UpdateStatus(client::resources::kCertificateSigningRequests, next).status();
  if (!s.ok()) return s;
  BERTH_LOG(Info, "csrsigning", "Signed a certificate", "csr", request.Key(), "subject", info->common_name);
  return Result{};
}

}  // namespace berth::controllers::builtin
