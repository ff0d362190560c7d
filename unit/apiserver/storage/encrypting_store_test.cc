// Encryption at rest over a MemoryStore: what reaches the inner store is kube-apiserver's
// envelope and never the plaintext (objects, change log, deletes); every way out decrypts; key
// rotation keeps old values readable and marks them stale; configurations are checked field by
// field.
#include "apiserver/storage/encrypting_store.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "apiserver/storage/memory/memory_store.h"
#include "testing/fake_clock.h"

namespace berth::apiserver::storage {
namespace {

using encryption::ParseEncryptionConfig;

std::string Config(const std::string& providers, const std::string& resources = "[secrets]") {
  return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: " + resources +
         "\n  providers:\n" + providers;
}
const std::string kKey1 = absl::Base64Escape(std::string(32, '\x01'));
const std::string kKey2 = absl::Base64Escape(std::string(32, '\x02'));
std::string Gcm(const std::string& name, const std::string& key) {
  return "  - aesgcm: {keys: [{name: " + name + ", secret: " + key + "}]}\n";
}
std::string Cbc(const std::string& name, const std::string& key) {
  return "  - aescbc: {keys: [{name: " + name + ", secret: " + key + "}]}\n";
}
const char kIdentity[] = "  - identity: {}\n";
const char kSecret[] = "/registry/core/secrets/default/s";
const char kCanary[] = R"({"data":{"password":"YmVydGgtY2FuYXJ5"}})";

class EncryptingStoreTest : public ::testing::Test {
 protected:
  // A store sharing the inner MemoryStore, as a restarted apiserver with a new configuration.
  std::unique_ptr<EncryptingStore> Open(const std::string& yaml) {
    auto config = ParseEncryptionConfig(yaml);
    EXPECT_TRUE(config.ok()) << config.status();
    struct Borrowed final : Store {
      explicit Borrowed(Store& s) : s(s) {}
      absl::StatusOr<KeyValue> Get(std::string_view k) const override { return s.Get(k); }
      absl::StatusOr<ListResult> List(std::string_view p, const ListOptions& o) const override { return s.List(p, o); }
      absl::StatusOr<uint64_t> Create(std::string_view k, Encoder e) override { return s.Create(k, std::move(e)); }
      absl::StatusOr<uint64_t> Update(std::string_view k, Encoder e, uint64_t x) override { return s.Update(k, std::move(e), x); }
      absl::StatusOr<uint64_t> Delete(std::string_view k, Encoder e, std::optional<uint64_t> x) override {
        return s.Delete(k, std::move(e), x);
      }
      uint64_t CurrentRevision() const override { return s.CurrentRevision(); }
      uint64_t CompactedRevision() const override { return s.CompactedRevision(); }
      absl::StatusOr<std::vector<ChangeEvent>> ReadLog(uint64_t a, size_t l) const override { return s.ReadLog(a, l); }
      std::unique_ptr<Subscription> Subscribe(std::function<void(const ChangeEvent&)> f) override {
        return s.Subscribe(std::move(f));
      }
      absl::StatusOr<uint64_t> CompactNow() override { return s.CompactNow(); }
      Store& s;
    };
    return std::make_unique<EncryptingStore>(std::make_unique<Borrowed>(inner_), *config);
  }
  static Encoder Value(const std::string& v) {
    return [v](uint64_t) { return v; };
  }

  testing::FakeClock clock_;
  MemoryStore inner_{clock_};
};

TEST_F(EncryptingStoreTest, ListedResourcesReachTheStoreOnlyAsCiphertext) {
  auto store = Open(Config(Gcm("key1", kKey1) + kIdentity));
  std::vector<ChangeEvent> seen;
  auto sub = store->Subscribe([&](const ChangeEvent& e) { seen.push_back(e); });
  auto rev = store->Create(kSecret, Value(kCanary));
  ASSERT_TRUE(rev.ok()) << rev.status();
  ASSERT_TRUE(store->Create("/registry/core/configmaps/default/c", Value("plain")).ok());

  std::string raw = inner_.Get(kSecret)->value;
  EXPECT_EQ(raw.rfind("k8s:enc:aesgcm:v1:key1:", 0), 0u) << raw;
  EXPECT_EQ(raw.find("YmVydGgtY2FuYXJ5"), std::string::npos);
  EXPECT_EQ(raw.size(), std::string("k8s:enc:aesgcm:v1:key1:").size() + 12 + std::string(kCanary).size() + 16);
  EXPECT_EQ(inner_.Get("/registry/core/configmaps/default/c")->value, "plain") << "not listed: stored as written";
  auto inner_log = inner_.ReadLog(0, 0);
  ASSERT_TRUE(inner_log.ok());
  for (const ChangeEvent& e : *inner_log) {
    if (e.key == kSecret) {
      EXPECT_EQ(e.value.rfind("k8s:enc:", 0), 0u);
    }
  }

  EXPECT_EQ(store->Get(kSecret)->value, kCanary);
  EXPECT_EQ(store->List("/registry/core/secrets/", {})->items.at(0).value, kCanary);
  auto log0 = store->ReadLog(0, 0);
  ASSERT_TRUE(log0.ok());
  EXPECT_EQ(log0->at(0).value, kCanary);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].value, kCanary);

  ASSERT_TRUE(store->Delete(kSecret, Value(kCanary), std::nullopt).ok());
  auto log = inner_.ReadLog(0, 0);
  ASSERT_TRUE(log.ok() && !log->empty());
  EXPECT_EQ(log->back().value.rfind("k8s:enc:", 0), 0u) << "the DELETED event's final state too";
  auto plain_log = store->ReadLog(0, 0);
  ASSERT_TRUE(plain_log.ok() && !plain_log->empty());
  EXPECT_EQ(plain_log->back().value, kCanary);
}

TEST_F(EncryptingStoreTest, TheCiphertextIsBoundToItsKey) {
  auto store = Open(Config(Gcm("key1", kKey1)));
  ASSERT_TRUE(store->Create(kSecret, Value(kCanary)).ok());
  std::string raw = inner_.Get(kSecret)->value;
  ASSERT_TRUE(inner_.Create("/registry/core/secrets/default/moved", Value(raw)).ok());
  auto moved = store->Get("/registry/core/secrets/default/moved");
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(EncryptingStoreTest, RotationKeepsOldValuesReadableAndMarksThemStale) {
  ASSERT_TRUE(inner_.Create("/registry/core/secrets/default/old-plain", Value("plain")).ok());
  auto first = Open(Config(Cbc("key1", kKey1) + kIdentity));
  ASSERT_TRUE(first->Create(kSecret, Value(kCanary)).ok());
  EXPECT_EQ(inner_.Get(kSecret)->value.rfind("k8s:enc:aescbc:v1:key1:", 0), 0u);
  EXPECT_EQ(first->StaleObjects()->size(), 1u) << "the plaintext written before encryption";

  // key2 first, key1 still listed: both readable, key1's and the plaintext stale.
  auto rotated = Open(Config(Gcm("key2", kKey2) + Cbc("key1", kKey1) + kIdentity));
  EXPECT_EQ(rotated->Get(kSecret)->value, kCanary);
  EXPECT_EQ(rotated->Get("/registry/core/secrets/default/old-plain")->value, "plain");
  auto stale = rotated->StaleObjects();
  ASSERT_TRUE(stale.ok());
  ASSERT_EQ(stale->size(), 2u);
  for (const KeyValue& kv : *stale) {
    ASSERT_TRUE(rotated->Update(kv.key, Value(kv.value), kv.revision).ok());
  }
  EXPECT_TRUE(rotated->StaleObjects()->empty());
  EXPECT_EQ(inner_.Get(kSecret)->value.rfind("k8s:enc:aesgcm:v1:key2:", 0), 0u);

  // key1 retired: nothing needs it any more.
  auto retired = Open(Config(Gcm("key2", kKey2)));
  EXPECT_EQ(retired->Get(kSecret)->value, kCanary);
  // A key that is gone cannot decrypt: an error, never garbage.
  auto lost = Open(Config(Gcm("key3", kKey1) + kIdentity));
  EXPECT_EQ(lost->Get(kSecret).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(EncryptingStoreTest, ResourcesMatchByNameGroupAndWildcard) {
  auto store = Open(Config(Gcm("k", kKey1), "[configmaps, deployments.apps, '*.batch']"));
  EXPECT_NE(store->TransformerFor("/registry/core/configmaps/ns/a"), nullptr);
  EXPECT_EQ(store->TransformerFor("/registry/core/secrets/ns/a"), nullptr);
  EXPECT_NE(store->TransformerFor("/registry/apps/deployments/ns/a"), nullptr);
  EXPECT_EQ(store->TransformerFor("/registry/apps/replicasets/ns/a"), nullptr);
  EXPECT_NE(store->TransformerFor("/registry/batch/cronjobs/ns/a"), nullptr);
  auto all = Open(Config(Gcm("k", kKey1), "['*.*']"));
  EXPECT_NE(all->TransformerFor("/registry/core/pods/ns/a"), nullptr);
  auto core = Open(Config(Gcm("k", kKey1), "['*.']"));
  EXPECT_NE(core->TransformerFor("/registry/core/pods/ns/a"), nullptr);
  EXPECT_EQ(core->TransformerFor("/registry/apps/deployments/ns/a"), nullptr);
}

TEST_F(EncryptingStoreTest, ConfigurationsAreCheckedFieldByField) {
  auto err = [](const std::string& yaml) { return std::string(ParseEncryptionConfig(yaml).status().message()); };
  EXPECT_EQ(err(Config("  - aesgcm: {keys: [{name: k, secret: " + absl::Base64Escape("short") + "}]}\n")),
            "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the "
            "expected length, got 5, expected one of [16 24 32]");
  EXPECT_EQ(err(Config("  - aescbc: {keys: [{name: k, secret: " + absl::Base64Escape(std::string(16, 'x')) + "}]}\n")),
            "resources[0].providers[0].aescbc.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the "
            "expected length, got 16, expected one of [32]");
  EXPECT_EQ(err(Config("  - aesgcm: {keys: []}\n")),
            "resources[0].providers[0].aesgcm.keys: Required value: aesgcm.keys is a required field");
  EXPECT_EQ(err(Config("  - secretbox: {keys: [{name: k, secret: " + kKey1 + "}]}\n")).rfind(
                "resources[0].providers[0].secretbox: Unsupported value: Berth encrypts with aesgcm or aescbc", 0),
            0u);
  EXPECT_EQ(err(Config("  - identity: {}\n    aesgcm: {keys: [{name: k, secret: " + kKey1 + "}]}\n")),
            "resources[0].providers[0]: Invalid value: more than one provider specified in a single element, should "
            "split into different list elements");
  EXPECT_EQ(err("apiVersion: v1\nkind: EncryptionConfiguration\nresources: []\n"),
            "apiVersion: Invalid value: \"v1\": want apiserver.config.k8s.io/v1");
  auto fresh = encryption::NewEncryptionConfigYaml();
  ASSERT_TRUE(fresh.ok());
  auto parsed = ParseEncryptionConfig(*fresh);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->resources[0].providers[0].keys[0].secret.size(), 32u);
  EXPECT_EQ(parsed->resources[0].providers[1].type, encryption::Provider::Type::kIdentity);
}

}  // namespace
}  // namespace berth::apiserver::storage
