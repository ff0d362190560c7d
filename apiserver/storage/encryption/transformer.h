#pragma once
// File: apiserver/storage/encryption/transformer.h
// What the store writes for one resource, given its EncryptionConfiguration providers, in
// kube-apiserver's envelope so its tools and docs apply: `k8s:enc:aesgcm:v1:<key>:` + 12-byte
// nonce + ciphertext + 16-byte tag (the storage key as additional data, so a ciphertext cannot
// be moved to another object), `k8s:enc:aescbc:v1:<key>:` + 16-byte IV + PKCS#7 ciphertext, or
// the plaintext (identity).

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "apiserver/storage/encryption/encryption_config.h"

namespace berth::apiserver::storage::encryption {

struct Decrypted {
  std::string plaintext;
  bool stale = false;  // not written by the first provider's first key: rewrite it
};

class Transformer {
 public:
  explicit Transformer(std::vector<Provider> providers) : providers_(std::move(providers)) {}

  absl::StatusOr<std::string> Encrypt(std::string_view storage_key, std::string_view plaintext) const;
  // DataLoss when no provider recognises the value (the key it was written with is gone) or the
  // ciphertext does not authenticate.
  absl::StatusOr<Decrypted> Decrypt(std::string_view storage_key, std::string_view stored) const;
  // Whether `stored` was written by the first provider's first key.
  bool IsCurrent(std::string_view stored) const;

 private:
  std::vector<Provider> providers_;
};

}  // namespace berth::apiserver::storage::encryption
