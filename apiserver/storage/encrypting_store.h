#pragma once
// File: apiserver/storage/encrypting_store.h
// Encryption at rest as a Store wrapper: the values of the resources an EncryptionConfiguration
// lists are encrypted inside the encoder (so the object keyspace, the change log and the WAL
// only ever see ciphertext) and decrypted on every way out — Get, List, ReadLog (the watch
// window's source after a restart) and subscriptions. Keys are not encrypted (upstream does not
// either): names stay visible, contents do not.

#include <memory>
#include <string>
#include <vector>

#include "apiserver/storage/encryption/encryption_config.h"
#include "apiserver/storage/encryption/transformer.h"
#include "apiserver/storage/store.h"

namespace berth::apiserver::storage {

class EncryptingStore final : public Store {
 public:
  EncryptingStore(std::unique_ptr<Store> inner, const encryption::EncryptionConfig& config);

  absl::StatusOr<KeyValue> Get(std::string_view key) const override;
  absl::StatusOr<ListResult> List(std::string_view prefix, const ListOptions& options) const override;
  absl::StatusOr<uint64_t> Create(std::string_view key, Encoder encode) override;
  void CreateAsync(std::string_view key, Encoder encode, std::function<void(absl::StatusOr<uint64_t>)> done) override;
  absl::StatusOr<uint64_t> Update(std::string_view key, Encoder encode, uint64_t expected) override;
  absl::StatusOr<uint64_t> Delete(std::string_view key, Encoder final_state, std::optional<uint64_t> expected) override;
  uint64_t CurrentRevision() const override { return inner_->CurrentRevision(); }
  uint64_t CompactedRevision() const override { return inner_->CompactedRevision(); }
  absl::StatusOr<std::vector<ChangeEvent>> ReadLog(uint64_t after, size_t limit) const override;
  std::unique_ptr<Subscription> Subscribe(std::function<void(const ChangeEvent&)> sink) override;
  absl::StatusOr<uint64_t> CompactNow() override { return inner_->CompactNow(); }

  // The objects (decrypted) not written with the current key: what a key rotation or turning
  // encryption on leaves to rewrite.
  absl::StatusOr<std::vector<KeyValue>> StaleObjects() const;

  // The storage key prefix of a resource as the configuration names it ("secrets",
  // "deployments.apps"); wildcards ("*.", "*.apps", "*.*") match by group.
  const encryption::Transformer* TransformerFor(std::string_view key) const;

 private:
  struct Rule {
    std::string group, plural;  // "*" for a wildcard
    std::shared_ptr<const encryption::Transformer> transformer;
  };
  Encoder Wrap(std::string_view key, Encoder encode) const;
  absl::Status Decode(std::string_view key, std::string& value) const;

  std::unique_ptr<Store> inner_;
  std::vector<Rule> rules_;
};

}  // namespace berth::apiserver::storage
