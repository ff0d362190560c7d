#include "apiserver/registry/registry.h"

#include <atomic>
#include <thread>

#include "apiserver/registry/continue_token.h"
#include "apiserver/registry/object_meta.h"
#include "apiserver/storage/memory/memory_store.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace berth {
std::map<std::string, std::string> EmbeddedSchemas();
}

namespace berth::apiserver::registry {
namespace {

json::Value J(const char* s) { return *json::Parse(s); }

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.EnsureNamespace("default").ok());
  }
  const ResourceType& Type(const char* group, const char* plural) {
    return *catalog_->Find(group, "v1", plural);
  }
  berth::testing::FakeClock clock_;
  storage::MemoryStore store_{clock_};
  std::unique_ptr<Catalog> catalog_ = Catalog::Builtin();
  Registry registry_{store_, *catalog_, *schema::SchemaSet::Load(EmbeddedSchemas()), clock_};
};

TEST_F(RegistryTest, CreateSetsServerFieldsAndDefaults) {
  auto r = registry_.Create(Type("", "pods"), "default",
                            J(R"({"metadata":{"name":"p","uid":"spoofed"},"spec":{"containers":[{"name":"c","image":"i:1"}]}})"), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->object.GetString({"metadata", "uid"}), "spoofed");
  EXPECT_EQ(r->object.GetString({"metadata", "creationTimestamp"}), "2026-01-01T00:00:00Z");
  EXPECT_EQ(r->object.GetString({"spec", "restartPolicy"}), "Always");
  EXPECT_EQ(r->object.GetString({"spec", "containers"}), "");
  EXPECT_EQ(r->object.Get({"spec", "containers"})->as_array()[0].GetString({"imagePullPolicy"}), "IfNotPresent");
  EXPECT_EQ(r->object.GetString({"status", "phase"}), "Pending");
  // The stored bytes carry the same resourceVersion the answer does.
  auto stored = registry_.Get(Type("", "pods"), "default", "p");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(json::Parse(*stored)->GetString({"metadata", "resourceVersion"}),
            r->object.GetString({"metadata", "resourceVersion"}));
}

TEST_F(RegistryTest, InvalidCarriesOneCausePerField) {
  auto r = registry_.Create(Type("apps", "deployments"), "default",
                            J(R"({"metadata":{"name":"d"},"spec":{"replicas":-1,"selector":{"matchLabels":{"a":"b"}},
                                  "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"C","image":"x"}]}}}})"),
                            {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api::ReasonOf(r.status()), "Invalid");
  std::vector<std::string> fields;
  for (const auto& c : api::CausesOf(r.status())) fields.push_back(c.field);
  EXPECT_NE(std::find(fields.begin(), fields.end(), "spec.replicas"), fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(), "spec.template.spec.containers[0].name"), fields.end());
  EXPECT_EQ(store_.Get("/registry/apps/deployments/default/d").status().code(), absl::StatusCode::kNotFound);
}

// A patch that names no resourceVersion is not conditional: concurrent patches of one object
// all land (a 409 here was a lost kubelet status report), while one naming a stale version is 409.
TEST_F(RegistryTest, PatchesWithoutResourceVersionRetryConflicts) {
  const ResourceType& cm = Type("", "configmaps");
  ASSERT_TRUE(registry_.Create(cm, "default", J(R"({"metadata":{"name":"c"}})"), {}).ok());
  std::atomic<int> failures{0};
  auto patcher = [&](const std::string& field) {
    for (int i = 0; i < 300; ++i) {
      auto r = registry_.Patch(cm, "default", "c", PatchType::kMerge,
                               J((R"({"data":{")" + field + R"(":")" + std::to_string(i) + R"("}})").c_str()), Subresource::kNone, {});
      if (!r.ok()) ++failures;
    }
  };
  std::thread a(patcher, "a"), b(patcher, "b");
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  auto stored = J(registry_.Get(cm, "default", "c")->c_str());
  EXPECT_EQ(stored.GetString({"data", "a"}), "299");
  EXPECT_EQ(stored.GetString({"data", "b"}), "299");
  auto stale = registry_.Patch(cm, "default", "c", PatchType::kMerge,
                               J(R"({"metadata":{"resourceVersion":"1"},"data":{"a":"x"}})"), Subresource::kNone, {});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
}

// pods/{name}/eviction against a PodDisruptionBudget (brief S6): 429 with the budget's numbers
// while it allows nothing, 201 (pod deleted gracefully, listed in disruptedPods) once it allows
// one, 500 when two budgets select the pod.
TEST_F(RegistryTest, EvictionHonoursTheDisruptionBudget) {
  const ResourceType& pods = Type("", "pods");
  const ResourceType& pdbs = *catalog_->Find("policy", "v1", "poddisruptionbudgets");
  for (const char* name : {"a-1", "a-2"}) {
    auto p = registry_.Create(pods, "default", J((std::string(R"({"metadata":{"name":")") + name +
                                                 R"(","labels":{"app":"a"}},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"host"}]}})").c_str()), {});
    ASSERT_TRUE(p.ok()) << p.status();
    json::Value running = p->object;
    running.Ensure({"status"}).Set("phase", "Running");
    running["status"].Set("conditions", J(R"([{"type":"Ready","status":"True"}])"));
    ASSERT_TRUE(registry_.Update(pods, "default", name, running, Subresource::kStatus, {}).ok());
  }
  auto pdb = registry_.Create(pdbs, "default", J(R"({"metadata":{"name":"a"},"spec":{"minAvailable":2,"selector":{"matchLabels":{"app":"a"}}}})"), {});
  ASSERT_TRUE(pdb.ok()) << pdb.status();
  // As the disruption controller would report it: 2 healthy, 2 needed.
  auto set_status = [&](int allowed) {
    json::Value b = J(registry_.Get(pdbs, "default", "a")->c_str());
    b.Set("status", J((R"({"observedGeneration":1,"currentHealthy":2,"desiredHealthy":2,"expectedPods":2,"disruptionsAllowed":)" +
                       std::to_string(allowed) + "}").c_str()));
    ASSERT_TRUE(registry_.Update(pdbs, "default", "a", b, Subresource::kStatus, {}).ok());
  };
  set_status(0);
  json::Value eviction = J(R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"a-1","namespace":"default"}})");
  absl::Status refused = registry_.Evict("default", "a-1", eviction, false);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_EQ(refused.message(), "Cannot evict pod as it would violate the pod's disruption budget.");
  api::HttpError http = api::ToHttp(refused);
  EXPECT_EQ(http.code, 429);
  EXPECT_EQ(http.body.GetString({"reason"}), "TooManyRequests");
  const json::Value& cause = http.body.Get({"details", "causes"})->as_array()[0];
  EXPECT_EQ(cause.GetString({"reason"}), "DisruptionBudget");
  EXPECT_EQ(cause.GetString({"message"}), "The disruption budget a needs 2 healthy pods and has 2 currently");
  EXPECT_EQ(J(registry_.Get(pods, "default", "a-1")->c_str()).Get({"metadata", "deletionTimestamp"}), nullptr);

  set_status(1);
  ASSERT_TRUE(registry_.Evict("default", "a-1", eviction, false).ok());
  json::Value evicted = J(registry_.Get(pods, "default", "a-1")->c_str());
  EXPECT_NE(evicted.Get({"metadata", "deletionTimestamp"}), nullptr) << "deleted with its grace period";
  json::Value after = J(registry_.Get(pdbs, "default", "a")->c_str());
  EXPECT_EQ(after.Get({"status", "disruptionsAllowed"})->as_int(), 0);
  EXPECT_NE(after.Get({"status", "disruptedPods", "a-1"}), nullptr);
  // The budget is spent: the next eviction is refused even before the controller catches up.
  EXPECT_EQ(registry_.Evict("default", "a-2", J(R"({"metadata":{"name":"a-2"}})"), false).code(),
            absl::StatusCode::kResourceExhausted);

  ASSERT_TRUE(registry_.Create(pdbs, "default", J(R"({"metadata":{"name":"b"},"spec":{"maxUnavailable":1,"selector":{"matchLabels":{"app":"a"}}}})"), {}).ok());
  absl::Status two = registry_.Evict("default", "a-2", J(R"({"metadata":{"name":"a-2"}})"), false);
  EXPECT_EQ(api::ToHttp(two).code, 500);
  EXPECT_EQ(two.message(), "Internal error occurred: This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
  EXPECT_EQ(registry_.Evict("default", "nope", J("{}"), false).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_.Evict("default", "a-2", J(R"({"metadata":{"name":"other"}})"), false).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, DisruptionBudgetValidation) {
  const ResourceType& pdbs = *catalog_->Find("policy", "v1", "poddisruptionbudgets");
  auto both = registry_.Create(pdbs, "default", J(R"({"metadata":{"name":"x"},"spec":{"minAvailable":1,"maxUnavailable":1}})"), {});
  EXPECT_EQ(api::ReasonOf(both.status()), "Invalid");
  EXPECT_NE(both.status().message().find("minAvailable and maxUnavailable cannot be both set"), std::string::npos) << both.status();
  auto pct = registry_.Create(pdbs, "default", J(R"({"metadata":{"name":"x"},"spec":{"minAvailable":"150%"}})"), {});
  EXPECT_NE(pct.status().message().find("must not be greater than 100%"), std::string::npos) << pct.status();
  auto ok = registry_.Create(pdbs, "default", J(R"({"metadata":{"name":"x"},"spec":{"minAvailable":"50%"},"status":{"disruptionsAllowed":9}})"), {});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->object.Get({"status", "disruptionsAllowed"}), nullptr) << "status is the controller's";
}

TEST_F(RegistryTest, UpdateConflictsOnStaleResourceVersion) {
  const ResourceType& cm = Type("", "configmaps");
  auto c = registry_.Create(cm, "default", J(R"({"metadata":{"name":"c"},"data":{"a":"1"}})"), {});
  ASSERT_TRUE(c.ok());
  json::Value v = c->object;
  v.Set("data", J(R"({"a":"2"})"));
  ASSERT_TRUE(registry_.Update(cm, "default", "c", v, Subresource::kNone, {}).ok());
  auto stale = registry_.Update(cm, "default", "c", v, Subresource::kNone, {});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  // Without a resourceVersion the update is unconditional.
  v.Ensure({"metadata"}).Erase("resourceVersion");
  EXPECT_TRUE(registry_.Update(cm, "default", "c", v, Subresource::kNone, {}).ok());
}

TEST_F(RegistryTest, NoOpUpdatesKeepTheVersionAndOnlySpecChangesBumpGeneration) {
  const ResourceType& deployments = Type("apps", "deployments");
  auto d = registry_.Create(deployments, "default",
                            J(R"({"metadata":{"name":"d","labels":{"a":"b"}},"spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},
                                  "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}})"),
                            {});
  ASSERT_TRUE(d.ok()) << d.status();
  std::string rv = d->object.GetString({"metadata", "resourceVersion"});
  auto generation = [](const WriteResult& r) { return r.object.Get({"metadata", "generation"})->as_int(); };
  auto patch = [&](const char* body) {
    return registry_.Patch(deployments, "default", "d", PatchType::kMerge, J(body), Subresource::kNone, {});
  };
  // The same values again (members in another order): nothing is written.
  auto same = patch(R"({"spec":{"replicas":1},"metadata":{"labels":{"a":"b"}}})");
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->object.GetString({"metadata", "resourceVersion"}), rv);
  // Metadata only: a new version, the same generation.
  auto labelled = patch(R"({"metadata":{"labels":{"a":"b","c":"d"}}})");
  ASSERT_TRUE(labelled.ok()) << labelled.status();
  EXPECT_NE(labelled->object.GetString({"metadata", "resourceVersion"}), rv);
  EXPECT_EQ(generation(*labelled), generation(*d));
  // A member of spec added: the generation moves.
  auto scaled = patch(R"({"spec":{"replicas":3}})");
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  EXPECT_EQ(generation(*scaled), generation(*d) + 1);
  auto paused = patch(R"({"spec":{"paused":true}})");
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_EQ(generation(*paused), generation(*d) + 2);
}

TEST_F(RegistryTest, DeletionWaitsForFinalizers) {
  const ResourceType& cm = Type("", "configmaps");
  ASSERT_TRUE(registry_.Create(cm, "default", J(R"({"metadata":{"name":"f","finalizers":["x/y"]}})"), {}).ok());
  auto d = registry_.Delete(cm, "default", "f", {});
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->removed);
  EXPECT_NE(d->object.Get({"metadata", "deletionTimestamp"}), nullptr);
  auto p = registry_.Patch(cm, "default", "f", PatchType::kMerge, J(R"({"metadata":{"finalizers":[]}})"),
                           Subresource::kNone, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(registry_.Get(cm, "default", "f").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RegistryTest, ListPagesAndFilters) {
  const ResourceType& cm = Type("", "configmaps");
  for (int i = 0; i < 10; ++i) {
    std::string body = "{\"metadata\":{\"name\":\"c" + std::to_string(i) + "\",\"labels\":{\"odd\":\"" +
                       (i % 2 ? "true" : "false") + "\"}}}";
    ASSERT_TRUE(registry_.Create(cm, "default", J(body.c_str()), {}).ok());
  }
  ListParams p;
  p.limit = 3;
  p.label_selector = "odd=true";
  size_t total = 0;
  while (true) {
    auto page = registry_.List(cm, "default", p);
    ASSERT_TRUE(page.ok()) << page.status();
    total += page->items.size();
    if (page->continue_token.empty()) break;
    p.continue_token = page->continue_token;
  }
  EXPECT_EQ(total, 5u);
  p.field_selector = "spec.nodeName=x";
  EXPECT_EQ(registry_.List(cm, "default", p).status().code(), absl::StatusCode::kInvalidArgument);
}

// Bytes stored before admission checked encoding (or broken any other way) can still go: invalid
// UTF-8 reads as U+FFFD, and what no decoder can read is deleted without being decoded.
TEST_F(RegistryTest, ObjectsStoredBrokenCanBeReadAndDeleted) {
  const ResourceType& cms = Type("", "configmaps");
  ASSERT_TRUE(store_.Create("/registry/core/configmaps/default/latin1", [](uint64_t) {
    return std::string("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"latin1\",\"namespace\":\"default\"},\"data\":{\"k\":\"caf\xe9\"}}");
  }).ok());
  ASSERT_TRUE(store_.Create("/registry/core/configmaps/default/garbage", [](uint64_t) { return std::string("{not json"); }).ok());
  auto list = registry_.List(cms, "default", {});
  ASSERT_TRUE(list.ok()) << list.status();
  auto updated = registry_.Patch(cms, "default", "latin1", PatchType::kMerge, J(R"({"data":{"k2":"v"}})"),
                                 Subresource::kNone, {});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->object.GetString({"data", "k"}), "caf\xEF\xBF\xBD");
  auto deleted = registry_.Delete(cms, "default", "garbage", {});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(deleted->removed);
  EXPECT_EQ(store_.Get("/registry/core/configmaps/default/garbage").status().code(), absl::StatusCode::kNotFound);
}

TEST(ObjectMetaTest, NamesFollowDns1123) {
  EXPECT_TRUE(ValidateName("a-b.c", NameRule::kSubdomain, "n").empty());
  EXPECT_FALSE(ValidateName("a-b.c", NameRule::kLabel, "n").empty());
  EXPECT_FALSE(ValidateName("A", NameRule::kSubdomain, "n").empty());
  EXPECT_FALSE(ValidateName("-a", NameRule::kSubdomain, "n").empty());
  EXPECT_FALSE(ValidateName(std::string(254, 'a'), NameRule::kSubdomain, "n").empty());
  EXPECT_FALSE(ValidateName("", NameRule::kSubdomain, "n").empty());
  EXPECT_TRUE(ValidateName("system:node", NameRule::kPathSegment, "n").empty());
  EXPECT_FALSE(ValidateName("a/b", NameRule::kPathSegment, "n").empty());
  EXPECT_FALSE(ValidateName("..", NameRule::kPathSegment, "n").empty());
}

TEST(ObjectMetaTest, StampPutsTheRevisionIntoMetadata) {
  json::Value v = J(R"({"metadata":{"name":"x","labels":{"k":"\u0001rv\u0001"}},"kind":"K"})");
  StampedObject s = Stamp(v);
  EXPECT_EQ(s.With(42), R"({"kind":"K","metadata":{"name":"x","resourceVersion":"42","labels":{"k":"\u0001rv\u0001"}}})");
}

TEST(ContinueTokenTest, RoundTripAndGarbage) {
  auto t = DecodeContinue(EncodeContinue({7, "/registry/x"}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->revision, 7u);
  EXPECT_EQ(t->start, "/registry/x");
  EXPECT_FALSE(DecodeContinue("!!!").ok());
  EXPECT_FALSE(DecodeContinue("e30").ok());
}

}  // namespace
}  // namespace berth::apiserver::registry
