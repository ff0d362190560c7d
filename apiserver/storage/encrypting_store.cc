#include "apiserver/storage/encrypting_store.h"

#include <cstdio>
#include <cstdlib>

namespace berth::apiserver::storage {
namespace {

// "/registry/<group>/<plural>/..." -> group ("" for core) and plural.
bool SplitKey(std::string_view key, std::string_view& group, std::string_view& plural) {
  constexpr std::string_view kRoot = "/registry/";
  if (key.substr(0, kRoot.size()) != kRoot) return false;
  key.remove_prefix(kRoot.size());
  size_t a = key.find('/');
  if (a == std::string_view::npos) return false;
  group = key.substr(0, a);
  if (group == "core") group = "";
  size_t b = key.find('/', a + 1);
  plural = key.substr(a + 1, b == std::string_view::npos ? std::string_view::npos : b - a - 1);
  return true;
}

}  // namespace

EncryptingStore::EncryptingStore(std::unique_ptr<Store> inner, const encryption::EncryptionConfig& config)
    : inner_(std::move(inner)) {
  for (const encryption::ResourceEncryption& entry : config.resources) {
    auto transformer = std::make_shared<const encryption::Transformer>(entry.providers);
    for (const std::string& name : entry.resources) {
      size_t dot = name.find('.');
      Rule rule;
      rule.plural = name.substr(0, dot);
      rule.group = dot == std::string::npos ? "" : name.substr(dot + 1);
      rule.transformer = transformer;
      rules_.push_back(std::move(rule));
    }
  }
}

const encryption::Transformer* EncryptingStore::TransformerFor(std::string_view key) const {
  std::string_view group, plural;
  if (!SplitKey(key, group, plural)) return nullptr;
  // Upstream's order: the first entry naming the resource wins.
  for (const Rule& r : rules_) {
    bool group_ok = r.group == "*" || r.group == group;
    bool plural_ok = r.plural == "*" || r.plural == plural;
    if (group_ok && plural_ok) return r.transformer.get();
  }
  return nullptr;
}

Encoder EncryptingStore::Wrap(std::string_view key, Encoder encode) const {
  const encryption::Transformer* t = TransformerFor(key);
  if (t == nullptr) return encode;
  return [t, key = std::string(key), encode = std::move(encode)](uint64_t revision) {
    auto sealed = t->Encrypt(key, encode(revision));
    if (!sealed.ok()) {
      // Never store the plaintext of what the configuration says to encrypt.
      std::fprintf(stderr, "encryption at rest failed for %s: %s\n", key.c_str(), sealed.status().ToString().c_str());
      std::abort();
    }
    return *std::move(sealed);
  };
}

absl::Status EncryptingStore::Decode(std::string_view key, std::string& value) const {
  const encryption::Transformer* t = TransformerFor(key);
  if (t == nullptr || value.empty()) return absl::OkStatus();
  auto plain = t->Decrypt(key, value);
  if (!plain.ok()) return plain.status();
  value = std::move(plain->plaintext);
  return absl::OkStatus();
}

absl::StatusOr<KeyValue> EncryptingStore::Get(std::string_view key) const {
  auto kv = inner_->Get(key);
  if (!kv.ok()) return kv;
  if (absl::Status s = Decode(kv->key, kv->value); !s.ok()) return s;
  return kv;
}

absl::StatusOr<ListResult> EncryptingStore::List(std::string_view prefix, const ListOptions& options) const {
  auto result = inner_->List(prefix, options);
  if (!result.ok()) return result;
  for (KeyValue& kv : result->items) {
    if (absl::Status s = Decode(kv.key, kv.value); !s.ok()) return s;
  }
  return result;
}

absl::StatusOr<uint64_t> EncryptingStore::Create(std::string_view key, Encoder encode) {
  return inner_->Create(key, Wrap(key, std::move(encode)));
}

void EncryptingStore::CreateAsync(std::string_view key, Encoder encode, std::function<void(absl::StatusOr<uint64_t>)> done) {
  inner_->CreateAsync(key, Wrap(key, std::move(encode)), std::move(done));
}

absl::StatusOr<uint64_t> EncryptingStore::Update(std::string_view key, Encoder encode, uint64_t expected) {
  return inner_->Update(key, Wrap(key, std::move(encode)), expected);
}

absl::StatusOr<uint64_t> EncryptingStore::Delete(std::string_view key, Encoder final_state, std::optional<uint64_t> expected) {
  return inner_->Delete(key, Wrap(key, std::move(final_state)), expected);
}

absl::StatusOr<std::vector<ChangeEvent>> EncryptingStore::ReadLog(uint64_t after, size_t limit) const {
  auto events = inner_->ReadLog(after, limit);
  if (!events.ok()) return events;
  for (ChangeEvent& e : *events) {
    if (absl::Status s = Decode(e.key, e.value); !s.ok()) return s;
    if (absl::Status s = Decode(e.key, e.prev_value); !s.ok()) return s;
  }
  return events;
}

std::unique_ptr<Subscription> EncryptingStore::Subscribe(std::function<void(const ChangeEvent&)> sink) {
  return inner_->Subscribe([this, sink = std::move(sink)](const ChangeEvent& e) {
    if (TransformerFor(e.key) == nullptr) return sink(e);
    ChangeEvent plain = e;
    // What was just written decrypts with the key that wrote it; a failure here is a bug.
    if (!Decode(plain.key, plain.value).ok() || !Decode(plain.key, plain.prev_value).ok()) {
      std::fprintf(stderr, "encryption at rest: cannot decrypt the event of %s\n", e.key.c_str());
      std::abort();
    }
    sink(plain);
  });
}

absl::StatusOr<std::vector<KeyValue>> EncryptingStore::StaleObjects() const {
  std::vector<KeyValue> stale;
  ListOptions all;
  auto listed = inner_->List("/registry/", all);
  if (!listed.ok()) return listed.status();
  for (KeyValue& kv : listed->items) {
    const encryption::Transformer* t = TransformerFor(kv.key);
    if (t == nullptr || t->IsCurrent(kv.value)) continue;
    if (absl::Status s = Decode(kv.key, kv.value); !s.ok()) return s;
    stale.push_back(std::move(kv));
  }
  return stale;
}

}  // namespace berth::apiserver::storage
