#include "apiserver/storage/encryption/encryption_config.h"

#include <openssl/rand.h>

#include <fstream>

#include "absl/strings/escaping.h"
#include "core/json/value.h"
#include "core/strings/strings.h"
#include "core/yaml/yaml_codec.h"

namespace berth::apiserver::storage::encryption {
namespace {

absl::Status Invalid(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(StrCat(field, ": ", why));
}

absl::StatusOr<Provider> ParseProvider(const json::Value& p, const std::string& field) {
  if (!p.is_object()) return Invalid(field, "Invalid value: must be an object");
  std::vector<std::string> named;
  for (const auto& [k, v] : p.as_object()) named.push_back(k);
  if (named.size() != 1) {
    return Invalid(field, named.empty() ? "Invalid value: provider does not contain any of the expected providers: "
                                          "KMS, secretbox, aesgcm, aescbc or identity"
                                        : "Invalid value: more than one provider specified in a single element, "
                                          "should split into different list elements");
  }
  const std::string& kind = named[0];
  Provider out;
  if (kind == "identity") return out;
  if (kind == "secretbox" || kind == "kms") {
    return Invalid(StrCat(field, ".", kind),
                   "Unsupported value: Berth encrypts with aesgcm or aescbc (OpenSSL); it has no libsodium (secretbox) "
                   "and no KMS plugin, and will not store plaintext in their place");
  }
  if (kind != "aesgcm" && kind != "aescbc") {
    return Invalid(field, StrCat("Invalid value: unknown provider \"", kind,
                                 "\": provider does not contain any of the expected providers: KMS, secretbox, aesgcm, "
                                 "aescbc or identity"));
  }
  out.type = kind == "aesgcm" ? Provider::Type::kAesGcm : Provider::Type::kAesCbc;
  const json::Value* keys = p.Get({kind, "keys"});
  std::string keys_field = StrCat(field, ".", kind, ".keys");
  if (keys == nullptr || !keys->is_array() || keys->as_array().empty()) {
    return Invalid(keys_field, StrCat("Required value: ", kind, ".keys is a required field"));
  }
  for (size_t i = 0; i < keys->size(); ++i) {
    const json::Value& k = keys->as_array()[i];
    std::string key_field = StrCat(keys_field, "[", i, "]");
    EncryptionKey key;
    key.name = k.GetString({"name"});
    if (key.name.empty()) return Invalid(StrCat(key_field, ".name"), "Required value: key.name is a required field");
    if (key.name.find(':') != std::string::npos) {
      return Invalid(StrCat(key_field, ".name"), StrCat("Invalid value: \"", key.name, "\": should not contain ':'"));
    }
    for (const EncryptionKey& seen : out.keys) {
      if (seen.name == key.name) return Invalid(StrCat(key_field, ".name"), StrCat("Duplicate value: \"", key.name, "\""));
    }
    std::string encoded = k.GetString({"secret"});
    if (encoded.empty()) return Invalid(StrCat(key_field, ".secret"), "Required value: key.secret is a required field");
    if (!absl::Base64Unescape(Sv(std::string_view(encoded)), &key.secret)) {
      return Invalid(StrCat(key_field, ".secret"), "Invalid value: \"REDACTED\": secrets must be base64 encoded");
    }
    const size_t n = key.secret.size();
    bool ok = out.type == Provider::Type::kAesGcm ? (n == 16 || n == 24 || n == 32) : n == 32;
    if (!ok) {
      return Invalid(StrCat(key_field, ".secret"),
                     StrCat("Invalid value: \"REDACTED\": secret is not of the expected length, got ", n,
                            ", expected one of ", out.type == Provider::Type::kAesGcm ? "[16 24 32]" : "[32]"));
    }
    out.keys.push_back(std::move(key));
  }
  return out;
}

}  // namespace

absl::StatusOr<EncryptionConfig> ParseEncryptionConfig(std::string_view text) {
  auto doc = yaml::ParseSingle(text, 16);
  if (!doc.ok()) return absl::InvalidArgumentError(StrCat("not YAML or JSON: ", doc.status().message()));
  if (!doc->is_object()) return absl::InvalidArgumentError("an EncryptionConfiguration object is expected");
  if (doc->GetString({"kind"}) != "EncryptionConfiguration") {
    return Invalid("kind", StrCat("Invalid value: \"", doc->GetString({"kind"}), "\": want EncryptionConfiguration"));
  }
  if (std::string v = doc->GetString({"apiVersion"}); v != "apiserver.config.k8s.io/v1") {
    return Invalid("apiVersion", StrCat("Invalid value: \"", v, "\": want apiserver.config.k8s.io/v1"));
  }
  const json::Value* resources = doc->Find("resources");
  if (resources == nullptr || !resources->is_array() || resources->as_array().empty()) {
    return Invalid("resources", "Required value: resources is a required field");
  }
  EncryptionConfig config;
  for (size_t i = 0; i < resources->size(); ++i) {
    const json::Value& r = resources->as_array()[i];
    std::string field = StrCat("resources[", i, "]");
    ResourceEncryption entry;
    const json::Value* names = r.Find("resources");
    if (names == nullptr || !names->is_array() || names->as_array().empty()) {
      return Invalid(StrCat(field, ".resources"), "Required value: resources is a required field");
    }
    for (const json::Value& n : names->as_array()) {
      if (!n.is_string() || n.as_string().empty()) {
        return Invalid(StrCat(field, ".resources"), "Invalid value: resource names must be non-empty strings");
      }
      entry.resources.push_back(n.as_string());
    }
    const json::Value* providers = r.Find("providers");
    if (providers == nullptr || !providers->is_array() || providers->as_array().empty()) {
      return Invalid(StrCat(field, ".providers"), "Required value: providers is a required field");
    }
    for (size_t j = 0; j < providers->size(); ++j) {
      auto p = ParseProvider(providers->as_array()[j], StrCat(field, ".providers[", j, "]"));
      if (!p.ok()) return p.status();
      entry.providers.push_back(*std::move(p));
    }
    config.resources.push_back(std::move(entry));
  }
  return config;
}

absl::StatusOr<EncryptionConfig> LoadEncryptionConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(StrCat("--encryption-provider-config: cannot read ", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto config = ParseEncryptionConfig(text);
  if (!config.ok()) {
    return absl::InvalidArgumentError(StrCat("--encryption-provider-config ", path, ": ", config.status().message()));
  }
  return config;
}

absl::StatusOr<std::string> NewEncryptionConfigYaml() {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) != 1) return absl::InternalError("no random bytes for an encryption key");
  std::string encoded = absl::Base64Escape(std::string(reinterpret_cast<const char*>(key), sizeof key));
  return StrCat("apiVersion: apiserver.config.k8s.io/v1\n"
                "kind: EncryptionConfiguration\n"
                "resources:\n"
                "  - resources:\n"
                "      - secrets\n"
                "    providers:\n"
                "      - aesgcm:\n"
                "          keys:\n"
                "            - name: key1\n"
                "              secret: ",
                encoded,
                "\n"
                "      - identity: {}\n");
}

}  // namespace berth::apiserver::storage::encryption
