#include "apiserver/registry/registry.h"

#include <algorithm>
#include <initializer_list>

#include "apiserver/registry/field_manager.h"
#include "apiserver/registry/kinds/field_support.h"
#include "apiserver/registry/custom_resources.h"
#include "apiserver/registry/object_meta.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/patch/patch.h"
#include "core/patch/strategic_merge.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

// An unconditional write (no resourceVersion given) is retried on a fresh read whenever another
// writer got in between, as kube-apiserver's GuaranteedUpdate loops until its deadline. Sixteen
// was too few on two busy cores: two writers of one object could each lose sixteen times running
// (a 409 nobody asked for). Each attempt is tens of microseconds, so this bounds a write at well
// under a second of retrying.
constexpr int kMaxConflictRetries = 2000;

const char* kServerSetMetadata[] = {"uid", "resourceVersion", "creationTimestamp",
                                    "deletionTimestamp", "deletionGracePeriodSeconds",
                                    "generation", "selfLink"};

// Whether two objects have equal members, leaving out `skipped` (and, inside metadata, the
// `skipped_metadata` ones). Compared in place: every update asks this of the whole object, and
// copying both to strip a field cost two deep copies per write.
bool EqualMembersBut(const json::Value& a, const json::Value& b, std::initializer_list<std::string_view> skipped,
                     std::initializer_list<std::string_view> skipped_metadata = {}) {
  if (!a.is_object() || !b.is_object()) return a == b;
  auto skip = [](std::string_view key, std::initializer_list<std::string_view> keys) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  };
  auto counted = [&](const json::Value& v, std::initializer_list<std::string_view> keys) {
    size_t n = 0;
    for (const auto& [k, m] : v.as_object()) n += skip(k, keys) ? 0 : 1;
    return n;
  };
  size_t compared = 0;
  for (const auto& [k, v] : a.as_object()) {
    if (skip(k, skipped)) continue;
    ++compared;
    const json::Value* w = b.Find(k);
    if (w == nullptr) return false;
    bool equal = k == "metadata" && skipped_metadata.size() > 0 ? EqualMembersBut(v, *w, skipped_metadata) : v == *w;
    if (!equal) return false;
  }
  return compared == counted(b, skipped);
}

// Everything but metadata and status: what bumps metadata.generation.
bool SpecChanged(const json::Value& a, const json::Value& b) { return !EqualMembersBut(a, b, {"metadata", "status"}); }

bool HasFinalizers(const json::Value& object) {
  const json::Value* f = object.Get({"metadata", "finalizers"});
  return f && f->is_array() && f->size() > 0;
}

// Prunes null members: Kubernetes decodes an explicit null as "not set".
void DropNulls(json::Value& v, int depth = 0) {
  if (depth > 80) return;
  if (v.is_object()) {
    auto& members = v.as_object();
    for (auto it = members.begin(); it != members.end();) {
      if (it->second.is_null()) {
        it = members.erase(it);
      } else {
        DropNulls(it->second, depth + 1);
        ++it;
      }
    }
  } else if (v.is_array()) {
    for (json::Value& e : v.as_array()) DropNulls(e, depth + 1);
  }
}

bool EqualButResourceVersion(const json::Value& a, const json::Value& b) {
  return EqualMembersBut(a, b, {}, {"resourceVersion"});
}

}  // namespace

Registry::Registry(storage::Store& store, const Catalog& catalog,
                   std::shared_ptr<const schema::SchemaSet> schemas, const Clock& clock)
    : store_(store), catalog_(catalog), schemas_(std::move(schemas)), clock_(clock) {}

absl::Status Registry::Admit(const ResourceType& type, json::Value& object, const json::Value* old,
                             const WriteOptions& options, std::vector<std::string>& warnings,
                             std::optional<AdmissionOperation> operation) const {
  type.strategy->Default(object);
  if (type.custom && type.schema) ApplySchemaDefaults(*type.schema, object);
  std::optional<AdmissionAttributes> attrs;
  if (operation) attrs.emplace(AdmissionAttributes{*operation, type, old, *this, options.dry_run, options.user.get(), &warnings,
                                                   options.audit_annotations});
  if (attrs) {
    for (const auto& plugin : plugins_) BERTH_RETURN_IF_ERROR(plugin->Mutate(*attrs, object));
  }
  std::string name = object.GetString({"metadata", "name"});
  std::vector<api::Cause> causes = ValidateMetadata(object, type.strategy->Naming());
  const json::Value* schema = type.schema ? type.schema.get() : schemas_->ForKind(type.group, type.version, type.kind);
  if (schema != nullptr) {
    schema::ValidationResult r = schemas_->Validate(*schema, object, {.strict_integers = !type.custom});
    causes.insert(causes.end(), r.causes.begin(), r.causes.end());
    if (type.custom) {
      // A CRD's schema describes spec/status; apiVersion, kind and metadata are implied at the
      // root (Kubernetes adds them), so a strict create of a custom resource must not trip on them.
      std::erase_if(r.unknown_fields, [](const std::string& f) {
        return f == "apiVersion" || f == "kind" || f == "metadata" || f.rfind("metadata.", 0) == 0;
      });
    }
    if (!r.unknown_fields.empty()) {
      std::string mode = options.field_validation.empty() ? "Warn" : options.field_validation;
      if (mode == "Strict") {
        std::string msg = "strict decoding error: ";
        for (size_t i = 0; i < r.unknown_fields.size(); ++i) {
          msg += StrCat(i ? ", " : "", "unknown field \"", r.unknown_fields[i], "\"");
        }
        return api::BadRequest(msg);
      }
      if (mode == "Warn") {
        for (const auto& f : r.unknown_fields) warnings.push_back(StrCat("unknown field \"", f, "\""));
      }
      // Custom resources have structural schemas: what they do not declare is not stored.
      if (type.custom) PruneUnknownFields(*schema, object);
    }
  }
  for (std::string& w : type.strategy->Warnings(object)) warnings.push_back(std::move(w));
  if (!type.custom) {
    kinds::CheckFieldSupport(type.kind, object, warnings, causes);
  }
  auto more = type.strategy->Validate(object);
  causes.insert(causes.end(), more.begin(), more.end());
  if (old != nullptr) {
    auto upd = type.strategy->ValidateUpdate(object, *old);
    causes.insert(causes.end(), upd.begin(), upd.end());
  }
  if (!causes.empty()) return api::Invalid(type.Target(name), std::move(causes));
  if (attrs) {
    for (const auto& plugin : plugins_) BERTH_RETURN_IF_ERROR(plugin->Validate(*attrs, object));
  }
  return absl::OkStatus();
}

absl::StatusOr<Registry::PreparedCreate> Registry::PrepareCreate(const ResourceType& type,
                                                                  const std::string& ns,
                                                                  json::Value body,
                                                                  const WriteOptions& options) const {
  if (!body.is_object()) return api::BadRequest("the request body must be a JSON object");
  std::string api_version = body.GetString({"apiVersion"});
  std::string kind = body.GetString({"kind"});
  if (!api_version.empty() && api_version != type.ApiVersion()) {
    return api::BadRequest(StrCat("the API version in the data (", api_version,
                                  ") does not match the expected API version (", type.ApiVersion(), ")"));
  }
  if (!kind.empty() && kind != type.kind) {
    return api::BadRequest(StrCat("the kind in the data (", kind, ") does not match the expected kind (", type.kind, ")"));
  }
  DropNulls(body);
  body.Set("apiVersion", type.ApiVersion());
  body.Set("kind", type.kind);
  json::Value& meta = body["metadata"];
  if (!meta.is_object()) return api::BadRequest("metadata must be an object");
  std::string body_ns = meta.GetString({"namespace"});
  if (type.namespaced) {
    if (!body_ns.empty() && body_ns != ns) {
      return api::BadRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    meta.Set("namespace", ns);
  } else {
    meta.Erase("namespace");
  }
  for (const char* f : kServerSetMetadata) meta.Erase(f);
  std::string generate = meta.GetString({"generateName"});
  if (meta.GetString({"name"}).empty() && !generate.empty()) {
    std::string base = generate.size() > 58 ? generate.substr(0, 58) : generate;
    meta.Set("name", base + GenerateNameSuffix());
  }
  meta.Set("uid", NewUid());
  meta.Set("creationTimestamp", FormatRfc3339(clock_.Now()));
  meta.Set("generation", 1);
  type.strategy->PrepareForCreate(body);
  // Kinds with a status answer "status": {} from birth, as Kubernetes does; typed clients (the
  // Python client's `.status.ready_replicas`) rely on it being there.
  if (type.has_status && !type.custom && body.Find("status") == nullptr) body.Set("status", json::Value::MakeObject());
  PreparedCreate prepared;
  BERTH_RETURN_IF_ERROR(Admit(type, body, nullptr, options, prepared.warnings, AdmissionOperation::kCreate));
  if (type.namespaced) BERTH_RETURN_IF_ERROR(CheckNamespace(ns));
  prepared.name = body.GetString({"metadata", "name"});
  prepared.key = type.Key(ns, prepared.name);
  prepared.generated = !generate.empty() && body.GetString({"metadata", "generateName"}) == generate &&
                       prepared.name.rfind(generate.substr(0, 58), 0) == 0;
  prepared.stamped = Stamp(body);
  prepared.object = std::move(body);
  return prepared;
}

absl::StatusOr<WriteResult> Registry::Create(const ResourceType& type, const std::string& ns,
                                             json::Value body, const WriteOptions& options) {
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(PreparedCreate p, PrepareCreate(type, ns, body, options));
    WriteResult result;
    result.created = true;
    result.warnings = std::move(p.warnings);
    if (options.dry_run) {
      Canonicalize(p.object);
      p.object.Ensure({"metadata"}).Erase("resourceVersion");
      result.object = std::move(p.object);
      return result;
    }
    auto rev = store_.Create(p.key, [&p](uint64_t r) { return p.stamped.With(r); });
    if (!rev.ok()) {
      if (rev.status().code() == absl::StatusCode::kAlreadyExists) {
        if (p.generated && attempt < 8) continue;  // a generated name collided: draw again
        return api::AlreadyExists(type.Target(p.name));
      }
      return rev.status();
    }
    p.object.Ensure({"metadata"}).Set("resourceVersion", std::to_string(*rev));
    Canonicalize(p.object);
    Notify(type, p.object, false);
    result.object = std::move(p.object);
    return result;
  }
}

void Registry::CreateAsync(const ResourceType& type, const std::string& ns, json::Value body,
                           const WriteOptions& options,
                           std::function<void(absl::StatusOr<CreatedObject>)> done, int attempt) {
  // The body is kept for a retry only when a generated name may collide.
  bool may_retry = body.GetString({"metadata", "name"}).empty() && attempt < 8;
  json::Value retry_body = may_retry ? body : json::Value();
  auto prepared = PrepareCreate(type, ns, std::move(body), options);
  if (!prepared.ok()) return done(prepared.status());
  auto p = std::make_shared<PreparedCreate>(*std::move(prepared));
  store_.CreateAsync(p->key, [p](uint64_t r) { return p->stamped.With(r); },
      [this, &type, ns, options, p, retry = std::move(retry_body), done = std::move(done), attempt,
       may_retry](absl::StatusOr<uint64_t> rev) mutable {
        if (!rev.ok()) {
          if (rev.status().code() == absl::StatusCode::kAlreadyExists) {
            if (may_retry && p->generated) {
              return CreateAsync(type, ns, std::move(retry), options, std::move(done), attempt + 1);
            }
            return done(api::AlreadyExists(type.Target(p->name)));
          }
          return done(rev.status());
        }
        if (has_observers()) {
          p->object.Ensure({"metadata"}).Set("resourceVersion", std::to_string(*rev));
          Notify(type, p->object, false);
        }
        done(CreatedObject{p->stamped.With(*rev), std::move(p->warnings)});
      });
}

absl::StatusOr<uint64_t> Registry::Remove(const ResourceType&, const std::string& key,
                                          const json::Value& object, uint64_t expected) {
  json::Value final_state = object;
  StampedObject stamped = Stamp(final_state);
  return store_.Delete(key, [&stamped](uint64_t r) { return stamped.With(r); }, expected);
}

absl::StatusOr<DeleteResult> Registry::DeleteUndecodable(const ResourceType& type, const std::string& ns,
                                                         const std::string& name, const DeleteOptions& options) {
  // The repair path for bytes no decoder can read (stored before admission checked what it now
  // checks): finalizers and grace periods cannot be honoured on what cannot be read, so the key
  // goes at once, and watchers get a DELETED event carrying what is known.
  std::string key = type.Key(ns, name);
  auto kv = store_.Get(key);
  if (!kv.ok()) return kv.status();
  json::Value final_state = json::Value::MakeObject();
  final_state.Set("apiVersion", type.ApiVersion());
  final_state.Set("kind", type.kind);
  json::Value& meta = final_state["metadata"];
  meta.Set("name", name);
  if (type.namespaced) meta.Set("namespace", ns);
  BERTH_LOG(Warning, "apiserver.registry", "Deleting an object whose stored bytes cannot be decoded", "key", key);
  if (!options.dry_run) {
    auto removed = Remove(type, key, final_state, kv->revision);
    if (!removed.ok()) return removed.status();
  }
  return DeleteResult{std::move(final_state), true};
}

absl::StatusOr<WriteResult> Registry::GuaranteedUpdate(const ResourceType& type,
                                                       const std::string& ns,
                                                       const std::string& name, Subresource sub,
                                                       const WriteOptions& options,
                                                       const Mutation& mutate, bool allow_retry,
                                                       bool check_update_rules) {
  std::string key = type.Key(ns, name);
  for (int attempt = 0;; ++attempt) {
    BERTH_ASSIGN_OR_RETURN(auto current, Read(type, ns, name));
    const json::Value& cur = current.first;
    BERTH_ASSIGN_OR_RETURN(json::Value proposed, mutate(cur));
    if (!proposed.is_object()) return api::BadRequest("the object must be a JSON object");
    DropNulls(proposed);
    std::string want_rv = proposed.GetString({"metadata", "resourceVersion"});
    bool precondition = !want_rv.empty();
    if (precondition && want_rv != std::to_string(current.second)) {
      return api::Conflict(type.Target(name),
                           "the object has been modified; please apply your changes to the latest version and try again");
    }
    json::Value next;
    if (sub == Subresource::kBinding) {
      next = std::move(proposed);
    } else if (sub == Subresource::kStatus) {
      // A status write changes status only (and nothing else of the stored object).
      next = cur;
      if (const json::Value* st = proposed.Find("status")) {
        next.Set("status", *st);
      } else {
        next.Erase("status");
      }
    } else {
      next = std::move(proposed);
      next.Set("apiVersion", type.ApiVersion());
      next.Set("kind", type.kind);
      if (!next.Find("metadata") || !next.Find("metadata")->is_object()) next.Set("metadata", json::Value::MakeObject());
      if (type.has_status) {
        if (const json::Value* st = cur.Find("status")) {
          next.Set("status", *st);
        } else {
          next.Erase("status");
        }
      }
      json::Value& m = next["metadata"];
      const json::Value& cm = *cur.Find("metadata");
      for (const char* f : kServerSetMetadata) {
        if (const json::Value* v = cm.Find(f)) {
          m.Set(f, *v);
        } else {
          m.Erase(f);
        }
      }
      m.Set("name", name);
      if (type.namespaced) m.Set("namespace", ns);
      // A write that does not mention managedFields keeps who-owns-what as it was.
      if (!m.Find("managedFields")) {
        if (const json::Value* mf = cm.Find("managedFields")) m.Set("managedFields", *mf);
      }
      if (SpecChanged(next, cur)) {
        const json::Value* g = cm.Find("generation");
        m.Set("generation", (g && g->is_int() ? g->as_int() : 0) + 1);
      }
    }
    WriteResult result;
    // The binding subresource is the one sanctioned way to set spec.nodeName: it skips the
    // kind's update rules, which forbid that change to ordinary updates.
    std::optional<AdmissionOperation> operation;
    if (sub == Subresource::kNone) operation = AdmissionOperation::kUpdate;
    // A binding sets spec.nodeName and the PodScheduled condition on a pod admitted at create and
    // changes nothing else, so it is not admitted again, as kube-apiserver's BindingREST
    // validates the Binding only (Registry::Bind). Re-checking the whole pod was a tenth of
    // the apiserver's CPU per binding when a scheduler binds thousands a second.
    if (sub != Subresource::kBinding) {
      BERTH_RETURN_IF_ERROR(Admit(type, next, check_update_rules ? &cur : nullptr, options, result.warnings, operation));
    }
    if (EqualButResourceVersion(next, cur)) {
      // No-op writes keep the resourceVersion (kubectl reports "no change").
      result.object = cur;
      return result;
    }
    if (options.dry_run) {
      result.object = std::move(next);
      return result;
    }
    bool being_deleted = next.Get({"metadata", "deletionTimestamp"}) != nullptr;
    absl::StatusOr<uint64_t> rev;
    // A graceful deletion still running (a pod whose agent is stopping it) survives updates such
    // as the agent's status reports; only the end of finalization removes the object.
    const json::Value* grace = next.Get({"metadata", "deletionGracePeriodSeconds"});
    bool grace_running = grace && grace->is_int() && grace->as_int() > 0;
    bool removing = being_deleted && !grace_running && !HasFinalizers(next) && !type.strategy->DeletionPending(next);
    if (removing) {
      // The last finalizer went: the object goes with it.
      rev = Remove(type, key, next, current.second);
    } else {
      StampedObject stamped = Stamp(next);
      rev = store_.Update(key, [&stamped](uint64_t r) { return stamped.With(r); }, current.second);
    }
    if (!rev.ok()) {
      if (rev.status().code() == absl::StatusCode::kAborted) {
        if (!precondition && allow_retry && attempt < kMaxConflictRetries) continue;
        return api::Conflict(type.Target(name),
                             "the object has been modified; please apply your changes to the latest version and try again");
      }
      if (rev.status().code() == absl::StatusCode::kNotFound) return api::NotFound(type.Target(name));
      return rev.status();
    }
    next.Ensure({"metadata"}).Set("resourceVersion", std::to_string(*rev));
    Canonicalize(next);
    Notify(type, next, removing);
    result.object = std::move(next);
    return result;
  }
}

absl::StatusOr<WriteResult> Registry::Update(const ResourceType& type, const std::string& ns,
                                             const std::string& name, json::Value body,
                                             Subresource sub, const WriteOptions& options) {
  if (!body.is_object()) return api::BadRequest("the request body must be a JSON object");
  std::string body_name = body.GetString({"metadata", "name"});
  if (!body_name.empty() && body_name != name) {
    return api::BadRequest(StrCat("the name of the object (", body_name,
                                  ") does not match the name on the URL (", name, ")"));
  }
  std::string body_ns = body.GetString({"metadata", "namespace"});
  if (type.namespaced && !body_ns.empty() && body_ns != ns) {
    return api::BadRequest("the namespace of the provided object does not match the namespace sent on the request");
  }
  std::string api_version = body.GetString({"apiVersion"});
  if (!api_version.empty() && api_version != type.ApiVersion()) {
    return api::BadRequest(StrCat("the API version in the data (", api_version,
                                  ") does not match the expected API version (", type.ApiVersion(), ")"));
  }
  return GuaranteedUpdate(type, ns, name, sub, options,
                          [&body](const json::Value&) -> absl::StatusOr<json::Value> { return body; },
                          /*allow_retry=*/true);
}

absl::StatusOr<WriteResult> Registry::Patch(const ResourceType& type, const std::string& ns,
                                            const std::string& name, PatchType patch_type,
                                            const json::Value& patch, Subresource sub,
                                            const WriteOptions& options) {
  auto mutate = [&](const json::Value& cur) -> absl::StatusOr<json::Value> {
    switch (patch_type) {
      case PatchType::kMerge:
        if (!patch.is_object()) return api::BadRequest("a merge patch must be a JSON object");
        return patch::MergePatch(cur, patch);
      case PatchType::kStrategic: {
        auto r = patch::StrategicMergePatch(cur, patch);
        if (!r.ok()) return api::BadRequest(Sv(r.status().message()));
        return r;
      }
      case PatchType::kApply: {
        // Server-side apply with field ownership (field_manager.h says what is simplified).
        if (!patch.is_object()) return api::BadRequest("an apply patch must be an object");
        ApplyRequest apply{options.field_manager, options.force, type.ApiVersion(), clock_.Now()};
        auto r = ApplyConfiguration(&cur, patch, apply);
        if (!r.ok()) {
          if (r.status().code() == absl::StatusCode::kAborted) {
            return api::Conflict(type.Target(name), std::string(r.status().message()));
          }
          return api::BadRequest(Sv(r.status().message()));
        }
        return r;
      }
      case PatchType::kJson: {
        auto r = patch::JsonPatch(cur, patch);
        if (!r.ok()) {
          return api::Invalid(type.Target(name), {{"FieldValueInvalid", std::string(r.status().message()), ""}});
        }
        return r;
      }
    }
    return api::BadRequest("unknown patch type");
  };
  // The patched object carries the stored resourceVersion; only a patch that names one makes it
  // a precondition. Otherwise a conflict with a concurrent writer is retried on the fresh object,
  // as Kubernetes does.
  bool names_version = false;
  if (patch_type == PatchType::kJson && patch.is_array()) {
    for (const json::Value& op : patch.as_array()) {
      if (op.GetString({"path"}) == "/metadata/resourceVersion") names_version = true;
    }
  } else {
    names_version = patch.Get({"metadata", "resourceVersion"}) != nullptr;
  }
  auto mutate_unconditional = [&](const json::Value& cur) -> absl::StatusOr<json::Value> {
    BERTH_ASSIGN_OR_RETURN(json::Value next, mutate(cur));
    if (!names_version) {
      if (json::Value* meta = next.Find("metadata"); meta && meta->is_object()) meta->Erase("resourceVersion");
    }
    return next;
  };
  return GuaranteedUpdate(type, ns, name, sub, options, mutate_unconditional, /*allow_retry=*/true);
}

absl::StatusOr<DeleteResult> Registry::Delete(const ResourceType& type, const std::string& ns,
                                              const std::string& name,
                                              const DeleteOptions& options) {
  std::string key = type.Key(ns, name);
  for (int attempt = 0;; ++attempt) {
    auto read = Read(type, ns, name);
    if (!read.ok() && read.status().code() == absl::StatusCode::kDataLoss) {
      return DeleteUndecodable(type, ns, name, options);
    }
    BERTH_ASSIGN_OR_RETURN(auto current, std::move(read));
    json::Value obj = std::move(current.first);
    uint64_t rev = current.second;
    for (const auto& plugin : plugins_) BERTH_RETURN_IF_ERROR(plugin->ValidateDelete(type, obj));
    if (options.precondition_uid && *options.precondition_uid != obj.GetString({"metadata", "uid"})) {
      return api::Conflict(type.Target(name),
                           StrCat("Precondition failed: UID in precondition: ", *options.precondition_uid,
                                  ", UID in object meta: ", obj.GetString({"metadata", "uid"})));
    }
    if (options.precondition_resource_version &&
        *options.precondition_resource_version != std::to_string(rev)) {
      return api::Conflict(type.Target(name),
                           StrCat("Precondition failed: ResourceVersion in precondition: ",
                                  *options.precondition_resource_version,
                                  ", ResourceVersion in object meta: ", rev));
    }
    json::Value& meta = obj["metadata"];
    bool already = meta.Find("deletionTimestamp") != nullptr;
    bool changed = false;
    if (options.propagation_policy == "Foreground" || options.propagation_policy == "Orphan") {
      std::string fin = options.propagation_policy == "Foreground" ? "foregroundDeletion" : "orphan";
      json::Value& list = meta["finalizers"];
      if (!list.is_array()) list = json::Value::MakeArray();
      bool present = false;
      for (const json::Value& f : list.as_array()) present = present || (f.is_string() && f.as_string() == fin);
      if (!present) {
        list.as_array().push_back(fin);
        changed = true;
      }
    }
    // Kinds that end gracefully (bound pods: the agent stops the processes, then deletes with
    // grace 0) say for how long; everything else goes at once.
    int64_t grace = type.strategy->GracefulDeletionSeconds(obj, options.grace_period_seconds);
    bool graceful = grace > 0;
    bool pending = HasFinalizers(obj) || type.strategy->DeletionPending(obj) || graceful;
    DeleteResult result;
    if (pending) {
      if (!already || changed || (graceful && meta.Find("deletionGracePeriodSeconds") &&
                                  meta.Find("deletionGracePeriodSeconds")->as_int() > grace)) {
        absl::Time when = clock_.Now() + absl::Seconds(graceful ? grace : 0);
        if (!already || graceful) {
          meta.Set("deletionTimestamp", FormatRfc3339(when));
          meta.Set("deletionGracePeriodSeconds", graceful ? grace : 0);
        }
        type.strategy->PrepareForDeletion(obj);
        if (!options.dry_run) {
          StampedObject stamped = Stamp(obj);
          auto r = store_.Update(key, [&stamped](uint64_t x) { return stamped.With(x); }, rev);
          if (!r.ok()) {
            if (r.status().code() == absl::StatusCode::kAborted && attempt < kMaxConflictRetries) continue;
            if (r.status().code() == absl::StatusCode::kNotFound) return api::NotFound(type.Target(name));
            return r.status();
          }
          // Stamp reordered the members: `meta` no longer points into `obj`.
          obj.Ensure({"metadata"}).Set("resourceVersion", std::to_string(*r));
          Notify(type, obj, false);
        }
      }
      Canonicalize(obj);
      result.object = std::move(obj);
      return result;
    }
    if (options.dry_run) {
      result.object = std::move(obj);
      result.removed = true;
      return result;
    }
    auto r = Remove(type, key, obj, rev);
    if (!r.ok()) {
      if (r.status().code() == absl::StatusCode::kAborted && attempt < kMaxConflictRetries) continue;
      if (r.status().code() == absl::StatusCode::kNotFound) return api::NotFound(type.Target(name));
      return r.status();
    }
    obj.Ensure({"metadata"}).Set("resourceVersion", std::to_string(*r));
    Canonicalize(obj);
    Notify(type, obj, true);
    result.object = std::move(obj);
    result.removed = true;
    return result;
  }
}

absl::Status Registry::EnsureNamespace(const std::string& name) {
  const ResourceType* nst = catalog_.Find("", "v1", "namespaces");
  json::Value ns = json::Value::MakeObject();
  ns.Ensure({"metadata"}).Set("name", name);
  auto r = Create(*nst, "", std::move(ns), {});
  if (!r.ok() && r.status().code() != absl::StatusCode::kAlreadyExists) return r.status();
  return absl::OkStatus();
}

}  // namespace berth::apiserver::registry
