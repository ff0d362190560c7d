#include "apiserver/registry/kinds/configmap/data_keys.h"
#include "apiserver/registry/kinds/strategies.h"

namespace berth::apiserver::registry::kinds {
namespace {

class ConfigMap final : public Strategy {
 public:
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    return ValidateDataKeys(object, {"data", "binaryData"}, {"binaryData"});
  }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    return ValidateImmutableData(object, old, {"data", "binaryData"});
  }
};

}  // namespace

std::shared_ptr<const Strategy> ConfigMapStrategy() { return std::make_shared<ConfigMap>(); }

}  // namespace berth::apiserver::registry::kinds
