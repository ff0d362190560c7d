#include "apiserver/registry/admission/certificate_signing.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "apiserver/registry/resource_type.h"
#include "core/api/errors.h"
#include "core/pki/certificates.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

class RequesterPlugin final : public AdmissionPlugin {
 public:
  absl::Status Mutate(const AdmissionAttributes& attrs, json::Value& object) const override {
    if (attrs.operation != AdmissionOperation::kCreate || attrs.type.group != "certificates.k8s.io" ||
        attrs.user == nullptr) {
      return absl::OkStatus();
    }
    json::Value& spec = object.Ensure({"spec"});
    spec.Set("username", attrs.user->name);
    if (attrs.user->uid.empty()) {
      spec.Erase("uid");
    } else {
      spec.Set("uid", attrs.user->uid);
    }
    json::Value groups = json::Value::MakeArray();
    for (const std::string& g : attrs.user->groups) groups.as_array().push_back(json::Value(g));
    spec.Set("groups", std::move(groups));
    spec.Erase("extra");
    if (!attrs.user->extra.empty()) {
      json::Value extra = json::Value::MakeObject();
      for (const auto& [k, values] : attrs.user->extra) {
        json::Value list = json::Value::MakeArray();
        for (const std::string& v : values) list.as_array().push_back(json::Value(v));
        extra.Set(k, std::move(list));
      }
      spec.Set("extra", std::move(extra));
    }
    return absl::OkStatus();
  }

  // CertificateSubjectRestriction: no certificate of the general client signer may carry
  // system:masters, the group authorization never questions (an approver could miss it).
  absl::Status Validate(const AdmissionAttributes& attrs, const json::Value& object) const override {
    if (attrs.operation != AdmissionOperation::kCreate || attrs.type.group != "certificates.k8s.io" ||
        object.GetString({"spec", "signerName"}) != kApiServerClientSigner) {
      return absl::OkStatus();
    }
    std::string encoded = object.GetString({"spec", "request"}), pem;
    if (!absl::Base64Unescape(Sv(std::string_view(encoded)), &pem)) return absl::OkStatus();  // validation's to refuse
    auto info = pki::InspectCertificateRequest(pem);
    if (!info.ok()) return absl::OkStatus();
    const auto& orgs = info->organizations;
    if (std::find(orgs.begin(), orgs.end(), "system:masters") == orgs.end()) return absl::OkStatus();
    return api::Forbidden(attrs.type.Target(object.GetString({"metadata", "name"})),
                          StrCat("use of ", kApiServerClientSigner, " signer with system:masters group is not allowed"));
  }

 private:
  static constexpr char kApiServerClientSigner[] = "kubernetes.io/kube-apiserver-client";
};

}  // namespace

std::shared_ptr<const AdmissionPlugin> CertificateSigningRequestAdmission() { return std::make_shared<RequesterPlugin>(); }

}  // namespace berth::apiserver::registry
