// File: apiserver/registry/kinds/certificates/csr_strategy.cc
// certificates.k8s.io/v1 CertificateSigningRequest (pkg/apis/certificates/validation): a PEM
// CERTIFICATE REQUEST whose signature verifies, a signerName of the form domain/path, usages,
// expirationSeconds of at least 10 minutes. The spec never changes after create (upstream's
// strategy keeps the stored one); approval and the certificate live in status.

#include "absl/strings/escaping.h"
#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/pki/certificates.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

class CertificateSigningRequest final : public Strategy {
 public:
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    const json::Value* spec = object.Find("spec");
    std::string request = spec ? spec->GetString({"request"}) : "";
    std::string pem;
    if (request.empty()) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.request"});
    } else if (!absl::Base64Unescape(Sv(std::string_view(request)), &pem)) {
      causes.push_back({"FieldValueInvalid", "Invalid value: must be base64-encoded bytes", "spec.request"});
    } else if (auto info = pki::InspectCertificateRequest(pem); !info.ok()) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: []byte{...}: ", info.status().message()), "spec.request"});
    }
    std::string signer = spec ? spec->GetString({"signerName"}) : "";
    if (signer.empty()) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.signerName"});
    } else if (signer.find('/') == std::string::npos || signer.front() == '/' || signer.back() == '/') {
      causes.push_back({"FieldValueInvalid",
                        StrCat("Invalid value: \"", signer, "\": must be a fully qualified domain and path of the form "
                               "'example.com/signer-name'"),
                        "spec.signerName"});
    }
    const json::Value* usages = spec ? spec->Find("usages") : nullptr;
    if (usages == nullptr || !usages->is_array() || usages->as_array().empty()) {
      causes.push_back({"FieldValueRequired", "Required value", "spec.usages"});
    }
    if (const json::Value* e = spec ? spec->Find("expirationSeconds") : nullptr; e && e->is_int() && e->as_int() < 600) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: ", e->as_int(), ": may not specify a duration less than 600 seconds (10 minutes)"),
                        "spec.expirationSeconds"});
    }
    return causes;
  }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    const json::Value* a = object.Find("spec");
    const json::Value* b = old.Find("spec");
    if (a && b && !(*a == *b)) return {{"FieldValueInvalid", "Invalid value: field is immutable", "spec"}};
    return {};
  }
  NameRule Naming() const override { return NameRule::kSubdomain; }
};

}  // namespace

std::shared_ptr<const Strategy> CertificateSigningRequestStrategy() { return Make<CertificateSigningRequest>(); }

}  // namespace berth::apiserver::registry::kinds
