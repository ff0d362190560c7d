// File: apiserver/registry/kinds/secret/secret_strategy.cc
// Secrets: type Opaque by default, stringData merged into data, the ConfigMap key rules.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/configmap/data_keys.h"
#include "apiserver/registry/kinds/strategies.h"

namespace berth::apiserver::registry::kinds {
namespace {

class Secret final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    SetIfAbsent(object, "type", "Opaque");
    // stringData is write-only: merged into data, base64-encoded, as the apiserver does.
    if (json::Value* sd = object.Find("stringData"); sd && sd->is_object()) {
      json::Value& data = object["data"];
      if (!data.is_object()) data = json::Value::MakeObject();
      for (const auto& [k, v] : sd->as_object()) {
        if (v.is_string()) data.Set(k, Base64(v.as_string()));
      }
      object.Erase("stringData");
    }
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    return ValidateDataKeys(object, {"data"}, {"data"});
  }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    auto causes = ValidateImmutableData(object, old, {"data"});
    const json::Value* a = object.Find("type");
    const json::Value* b = old.Find("type");
    if (a && b && !(*a == *b)) causes.push_back({"FieldValueInvalid", "Invalid value: field is immutable", "type"});
    return causes;
  }

 private:
  static std::string Base64(const std::string& in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
      uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
      out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], kAlphabet[n & 63]};
    }
    if (i + 1 == in.size()) {
      uint32_t n = static_cast<uint8_t>(in[i]) << 16;
      out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
      uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
      out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
    }
    return out;
  }
};

}  // namespace

std::shared_ptr<const Strategy> SecretStrategy() { return Make<Secret>(); }

}  // namespace berth::apiserver::registry::kinds
