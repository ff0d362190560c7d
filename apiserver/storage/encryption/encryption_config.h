#pragma once
// File: apiserver/storage/encryption/encryption_config.h
// Kubernetes' EncryptionConfiguration (apiserver.config.k8s.io/v1, --encryption-provider-config),
// YAML or JSON: for each group of resources, providers in order — the first encrypts what is
// written, every one of them may decrypt what is read (so rotating keys keeps old objects
// readable). Providers: aesgcm and aescbc (OpenSSL), identity (plaintext). secretbox and kms are
// refused by name: Berth has no libsodium and no KMS plugin, and silently storing plaintext
// where a config asks for encryption is the one thing this must never do.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::apiserver::storage::encryption {

struct EncryptionKey {
  std::string name;
  std::string secret;  // raw bytes (the config holds them base64)
};

struct Provider {
  enum class Type { kAesGcm, kAesCbc, kIdentity };
  Type type = Type::kIdentity;
  std::vector<EncryptionKey> keys;  // aesgcm/aescbc: the first encrypts, all decrypt
};

struct ResourceEncryption {
  std::vector<std::string> resources;  // "secrets", "configmaps", "deployments.apps", "*.", "*.*"
  std::vector<Provider> providers;
};

struct EncryptionConfig {
  std::vector<ResourceEncryption> resources;
};

// InvalidArgument naming the field (`resources[0].providers[1].aesgcm.keys[0].secret: ...`).
absl::StatusOr<EncryptionConfig> ParseEncryptionConfig(std::string_view text);
absl::StatusOr<EncryptionConfig> LoadEncryptionConfig(const std::string& path);

// A new configuration: aesgcm with one fresh 32-byte key named key1 for secrets, then identity
// (so Secrets stored before encryption was turned on stay readable and are rewritten).
absl::StatusOr<std::string> NewEncryptionConfigYaml();

}  // namespace berth::apiserver::storage::encryption
