// File: apiserver/registry/kinds/endpointslice/endpointslice_strategy.cc
// discovery.k8s.io/v1 EndpointSlices: what the schema cannot say — addresses of the slice's
// addressType, and addressType immutable.

#include "absl/strings/str_cat.h"
#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/net/ipv4.h"

namespace berth::apiserver::registry::kinds {
namespace {

class EndpointSlice final : public Strategy {
 public:
  // No status: the whole object is the spec.
  void PrepareForCreate(json::Value&) const override {}

  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    if (object.GetString({"addressType"}) != "IPv4") return causes;
    const json::Value* endpoints = object.Find("endpoints");
    if (endpoints == nullptr || !endpoints->is_array()) return causes;
    for (size_t i = 0; i < endpoints->as_array().size(); ++i) {
      const json::Value* addresses = endpoints->as_array()[i].Find("addresses");
      if (addresses == nullptr || !addresses->is_array()) continue;
      for (size_t j = 0; j < addresses->as_array().size(); ++j) {
        const json::Value& a = addresses->as_array()[j];
        if (!a.is_string() || !net::ParseIpv4(a.as_string()).ok()) {
          causes.push_back({"FieldValueInvalid",
                            absl::StrCat("Invalid value: \"", a.is_string() ? a.as_string() : "", "\": must be a valid IPv4 address"),
                            absl::StrCat("endpoints[", i, "].addresses[", j, "]")});
        }
      }
    }
    return causes;
  }

  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    if (object.GetString({"addressType"}) != old.GetString({"addressType"})) {
      return {{"FieldValueInvalid", "Invalid value: field is immutable", "addressType"}};
    }
    return {};
  }
};

}  // namespace

std::shared_ptr<const Strategy> EndpointSliceStrategy() { return Make<EndpointSlice>(); }

}  // namespace berth::apiserver::registry::kinds
