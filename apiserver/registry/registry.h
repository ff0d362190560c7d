#pragma once
// File: apiserver/registry/registry.h
// Generic REST logic over a Store for every served kind (Kubernetes' generic registry):
// server-set metadata, admission (defaulting -> schema -> kind rules), optimistic concurrency,
// generation, the /status split, finalizers and graceful deletion, paged and filtered lists.
//
// Thread-safe. Writes block until durable, so callers run them off the network threads.
// Errors are api:: statuses ready for ToHttp().

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/api/user_info.h"
#include "apiserver/registry/admission/admission_plugin.h"
#include "apiserver/registry/catalog.h"
#include "apiserver/registry/object_meta.h"
#include "apiserver/schema/validator.h"
#include "apiserver/storage/prefix_mirror.h"
#include "apiserver/storage/store.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::apiserver::registry {

// kBinding is internal: the binding subresource writes spec.nodeName and the PodScheduled
// condition in one commit.
enum class Subresource { kNone, kStatus, kBinding };
enum class PatchType { kMerge, kJson, kStrategic, kApply };

struct WriteOptions {
  bool dry_run = false;
  std::string field_validation;  // Strict | Warn | Ignore ("" = Warn, the server default)
  std::string field_manager;
  bool force = false;  // server-side apply: take fields other appliers own
  // Who asks (admission that depends on the requester, e.g. RBAC escalation); null for the
  // server's own writes.
  std::shared_ptr<const api::UserInfo> user;
  // Where admission puts annotations for the request's audit event; null: not audited.
  std::map<std::string, std::string>* audit_annotations = nullptr;
};

struct WriteResult {
  json::Value object;
  bool created = false;
  std::vector<std::string> warnings;
};

// A stored object as bytes: what an asynchronous create answers with.
struct CreatedObject {
  std::string json;
  std::vector<std::string> warnings;
};

struct ListParams {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
};

struct ListPage {
  std::vector<std::string> items;  // serialized objects
  uint64_t revision = 0;
  std::string continue_token;
  int64_t remaining = -1;          // -1: unknown
};

struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;
  std::string propagation_policy;  // Background | Foreground | Orphan
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  bool dry_run = false;
};

struct DeleteResult {
  json::Value object;
  bool removed = false;  // gone from storage (false: marked for deletion)
};

class Registry {
 public:
  Registry(storage::Store& store, const Catalog& catalog,
           std::shared_ptr<const schema::SchemaSet> schemas, const Clock& clock);

  absl::StatusOr<std::string> Get(const ResourceType& type, const std::string& ns,
                                  const std::string& name) const;
  absl::StatusOr<ListPage> List(const ResourceType& type, const std::string& ns,
                                const ListParams& params) const;
  absl::StatusOr<WriteResult> Create(const ResourceType& type, const std::string& ns,
                                     json::Value body, const WriteOptions& options);
  // Admits on the calling thread, then commits without holding it: `done` runs on a store
  // thread once the object is durable (or the create failed). Not for dry runs.
  void CreateAsync(const ResourceType& type, const std::string& ns, json::Value body,
                   const WriteOptions& options,
                   std::function<void(absl::StatusOr<CreatedObject>)> done, int attempt = 0);
  absl::StatusOr<WriteResult> Update(const ResourceType& type, const std::string& ns,
                                     const std::string& name, json::Value body, Subresource sub,
                                     const WriteOptions& options);
  absl::StatusOr<WriteResult> Patch(const ResourceType& type, const std::string& ns,
                                    const std::string& name, PatchType patch_type,
                                    const json::Value& patch, Subresource sub,
                                    const WriteOptions& options);
  absl::StatusOr<DeleteResult> Delete(const ResourceType& type, const std::string& ns,
                                      const std::string& name, const DeleteOptions& options);

  // pods/{name}/binding: sets spec.nodeName once (409 if already bound).
  absl::Status Bind(const std::string& ns, const std::string& name, const json::Value& binding,
                    bool dry_run);
  // pods/{name}/eviction (policy/v1 Eviction): deletes the pod unless that would break its
  // PodDisruptionBudget (429 with a DisruptionBudget cause). The budget's status is decremented
  // first, under its resourceVersion, so two racing evictions cannot both pass.
  absl::Status Evict(const std::string& ns, const std::string& name, const json::Value& eviction, bool dry_run);

  // autoscaling/v1 Scale view of a kind with has_scale.
  absl::StatusOr<json::Value> GetScale(const ResourceType& type, const std::string& ns,
                                       const std::string& name) const;
  absl::StatusOr<json::Value> UpdateScale(const ResourceType& type, const std::string& ns,
                                          const std::string& name, const json::Value& scale,
                                          const WriteOptions& options);

  // Every object of a kind in `ns` (all namespaces when empty), for admission: served from
  // memory for the mirrored kinds, from the store otherwise. It reflects every write
  // acknowledged before the call, as List does, but names no revision.
  absl::StatusOr<std::vector<std::string>> ListAll(const ResourceType& type, const std::string& ns) const;
  // Keeps in memory, for ListAll and Get, the small kinds admission reads on every create
  // (Namespaces, LimitRanges, ResourceQuotas, ServiceAccounts, PriorityClasses), as upstream
  // reads them from informers. Before serving.
  absl::Status MirrorAdmissionKinds();
  // Whether admitting a create in `ns` may wait for another write's commit: only ResourceQuota
  // charges one (synchronously), so only where a quota exists. Answered from the mirror; true
  // when it cannot tell (no mirror).
  bool CreateMayWaitForCommit(const std::string& ns) const;

  // 400 for a selector a list of this kind would refuse.
  absl::Status ValidateSelectors(const ResourceType& type, const std::string& label_selector,
                                 const std::string& field_selector) const;

  // Creates a namespace if it does not exist (start-up).
  absl::Status EnsureNamespace(const std::string& name);

  // Validates, field by field, against the kind's schema and rules, without storing. With
  // `operation` (a write of the main resource), the admission plugins run too.
  absl::Status Admit(const ResourceType& type, json::Value& object, const json::Value* old,
                     const WriteOptions& options, std::vector<std::string>& warnings,
                     std::optional<AdmissionOperation> operation = std::nullopt) const;

  // Admission plugins, in order. Before serving.
  void AddAdmissionPlugin(std::shared_ptr<const AdmissionPlugin> plugin) { plugins_.push_back(std::move(plugin)); }

  // Called after every successful write with the object as stored (`removed`: it is gone).
  // Set before serving; runs on the writing thread (a store thread for asynchronous creates).
  using CommitObserver = std::function<void(const ResourceType& type, const json::Value& object, bool removed)>;
  void AddCommitObserver(CommitObserver observer) { observers_.push_back(std::move(observer)); }

  const Catalog& catalog() const { return catalog_; }
  storage::Store& store() { return store_; }

 private:
  struct PreparedCreate {
    json::Value object;
    StampedObject stamped;
    std::string key;
    std::string name;
    bool generated = false;
    std::vector<std::string> warnings;
  };
  absl::StatusOr<PreparedCreate> PrepareCreate(const ResourceType& type, const std::string& ns,
                                               json::Value body, const WriteOptions& options) const;
  using Mutation = std::function<absl::StatusOr<json::Value>(const json::Value& current)>;
  absl::StatusOr<WriteResult> GuaranteedUpdate(const ResourceType& type, const std::string& ns,
                                               const std::string& name, Subresource sub,
                                               const WriteOptions& options, const Mutation& mutate,
                                               bool allow_retry, bool check_update_rules = true);
  absl::StatusOr<std::pair<json::Value, uint64_t>> Read(const ResourceType& type,
                                                        const std::string& ns,
                                                        const std::string& name) const;
  // Delete of an object whose stored bytes cannot be decoded: removed at once.
  absl::StatusOr<DeleteResult> DeleteUndecodable(const ResourceType& type, const std::string& ns,
                                                 const std::string& name, const DeleteOptions& options);
  absl::StatusOr<uint64_t> Remove(const ResourceType& type, const std::string& key,
                                  const json::Value& object, uint64_t expected);
  absl::Status CheckNamespace(const std::string& ns) const;
  // The stored bytes of `key` (kNotFound when absent), from the mirror when it holds the kind.
  absl::StatusOr<std::string> StoredValue(const std::string& key) const;

  storage::Store& store_;
  const Catalog& catalog_;
  std::shared_ptr<const schema::SchemaSet> schemas_;
  const Clock& clock_;
  std::vector<CommitObserver> observers_;
  std::unique_ptr<storage::PrefixMirror> mirror_;
  bool has_observers() const { return !observers_.empty(); }
  void Notify(const ResourceType& type, const json::Value& object, bool removed) const {
    for (const auto& o : observers_) o(type, object, removed);
  }
  std::vector<std::shared_ptr<const AdmissionPlugin>> plugins_;
};

}  // namespace berth::apiserver::registry
