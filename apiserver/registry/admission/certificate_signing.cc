#include "apiserver/registry/admission/certificate_signing.h"

#include "apiserver/registry/resource_type.h"

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
};

}  // namespace

std::shared_ptr<const AdmissionPlugin> CertificateSigningRequestAdmission() { return std::make_shared<RequesterPlugin>(); }

}  // namespace berth::apiserver::registry
