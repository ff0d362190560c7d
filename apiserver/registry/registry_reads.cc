// Reads of the registry: by name and lists (from the store, or from the mirror of the small
// kinds admission reads on every create), and the namespace check every create makes.
#include "apiserver/registry/registry.h"

#include <algorithm>

#include "apiserver/registry/continue_token.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/selector/field_selector.h"
#include "core/selector/label_selector.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

// Rows read per step when a selector filters a page.
constexpr int kMaxPageScan = 500;

absl::Status CheckFieldSelector(const ResourceType& type, const selector::FieldSelector& sel) {
  for (const auto& r : sel.requirements()) {
    if (r.field == "metadata.name" || (type.namespaced && r.field == "metadata.namespace")) continue;
    bool ok = false;
    for (const std::string& f : type.selectable_fields) ok = ok || f == r.field;
    if (!ok) {
      return api::BadRequest(StrCat("field label not supported: ", r.field));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::pair<json::Value, uint64_t>> Registry::Read(const ResourceType& type,
                                                               const std::string& ns,
                                                               const std::string& name) const {
  auto kv = store_.Get(type.Key(ns, name));
  if (!kv.ok()) {
    if (kv.status().code() == absl::StatusCode::kNotFound) return api::NotFound(type.Target(name));
    return kv.status();
  }
  auto obj = json::ParseStored(kv->value, 512);
  if (!obj.ok()) return absl::DataLossError(StrCat("stored object ", kv->key, " is corrupt"));
  return std::make_pair(*std::move(obj), kv->revision);
}

absl::StatusOr<std::string> Registry::StoredValue(const std::string& key) const {
  if (mirror_ != nullptr && mirror_->Covers(key)) {
    if (std::optional<std::string> value = mirror_->Get(key)) return *std::move(value);
    return absl::NotFoundError(StrCat("key ", key, " not found"));
  }
  BERTH_ASSIGN_OR_RETURN(storage::KeyValue kv, store_.Get(key));
  return std::move(kv.value);
}

absl::StatusOr<std::string> Registry::Get(const ResourceType& type, const std::string& ns,
                                          const std::string& name) const {
  auto value = StoredValue(type.Key(ns, name));
  if (!value.ok() && value.status().code() == absl::StatusCode::kNotFound) return api::NotFound(type.Target(name));
  return value;
}

absl::Status Registry::ValidateSelectors(const ResourceType& type, const std::string& label_selector,
                                         const std::string& field_selector) const {
  auto labels = selector::LabelSelector::Parse(label_selector);
  if (!labels.ok()) return api::BadRequest(Sv(labels.status().message()));
  auto fields = selector::FieldSelector::Parse(field_selector);
  if (!fields.ok()) return api::BadRequest(Sv(fields.status().message()));
  return CheckFieldSelector(type, *fields);
}

absl::StatusOr<ListPage> Registry::List(const ResourceType& type, const std::string& ns,
                                        const ListParams& params) const {
  BERTH_RETURN_IF_ERROR(ValidateSelectors(type, params.label_selector, params.field_selector));
  auto labels = *selector::LabelSelector::Parse(params.label_selector);
  auto fields = *selector::FieldSelector::Parse(params.field_selector);
  if (params.limit < 0) return api::BadRequest("limit must not be negative");

  std::string prefix = type.ListPrefix(ns);
  storage::ListOptions opts;
  if (!params.continue_token.empty()) {
    BERTH_ASSIGN_OR_RETURN(ContinueToken token, DecodeContinue(params.continue_token));
    if (token.start.rfind(prefix, 0) != 0) return api::BadRequest("continue token does not match this list");
    opts.at_revision = token.revision;
    opts.start_after = token.start;
  }
  bool filtered = !labels.empty() || !fields.empty();
  opts.keep_snapshot = params.limit > 0;
  ListPage page;
  size_t want = params.limit > 0 ? static_cast<size_t>(params.limit) : 0;
  while (true) {
    // Filtering may drop items, so read in steps until the page is full.
    opts.limit = want == 0 ? 0 : std::max<size_t>(want - page.items.size(), filtered ? kMaxPageScan : 0);
    auto result = store_.List(prefix, opts);
    if (!result.ok()) {
      if (result.status().code() == absl::StatusCode::kOutOfRange) {
        return api::Expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
      }
      return result.status();
    }
    page.revision = result->revision;
    opts.at_revision = result->revision;
    std::string last_key;
    bool page_full = false;
    for (auto& kv : result->items) {
      last_key = kv.key;
      if (filtered) {
        auto obj = json::ParseStored(kv.value, 512);
        if (!obj.ok()) continue;
        const json::Value* lbl = obj->Get({"metadata", "labels"});
        if (!labels.Matches(lbl ? *lbl : json::Value()) || !fields.Matches(*obj)) continue;
      }
      page.items.push_back(std::move(kv.value));
      if (want != 0 && page.items.size() == want) {
        page_full = true;
        break;
      }
    }
    bool more = result->more || (page_full && last_key != result->items.back().key);
    if (want != 0 && page_full && more) {
      page.continue_token = EncodeContinue({page.revision, last_key});
      return page;
    }
    if (!result->more) return page;
    opts.start_after = last_key;
  }
}

absl::StatusOr<std::vector<std::string>> Registry::ListAll(const ResourceType& type, const std::string& ns) const {
  if (mirror_ != nullptr) {
    if (auto items = mirror_->List(type.ListPrefix(ns))) return *std::move(items);
  }
  BERTH_ASSIGN_OR_RETURN(ListPage page, List(type, ns, {}));
  return std::move(page.items);
}

absl::Status Registry::MirrorAdmissionKinds() {
  std::vector<std::string> prefixes;
  for (const ResourceType* type : {catalog_.Find("", "v1", "namespaces"), catalog_.Find("", "v1", "limitranges"),
                                   catalog_.Find("", "v1", "resourcequotas"), catalog_.Find("", "v1", "serviceaccounts"),
                                   catalog_.Find("scheduling.k8s.io", "v1", "priorityclasses")}) {
    if (type != nullptr) prefixes.push_back(type->KeyPrefix());
  }
  BERTH_ASSIGN_OR_RETURN(mirror_, storage::PrefixMirror::Start(store_, std::move(prefixes)));
  return absl::OkStatus();
}

bool Registry::CreateMayWaitForCommit(const std::string& ns) const {
  if (ns.empty()) return false;  // quotas are namespaced; cluster-scoped objects charge none
  const ResourceType* quotas = catalog_.Find("", "v1", "resourcequotas");
  if (mirror_ == nullptr || quotas == nullptr) return true;
  // Runs on a network thread for every create: a lookup, no copies.
  return mirror_->HasAny(quotas->ListPrefix(ns)).value_or(true);
}

absl::Status Registry::CheckNamespace(const std::string& ns) const {
  const ResourceType* nst = catalog_.Find("", "v1", "namespaces");
  auto value = StoredValue(nst->Key("", ns));
  if (!value.ok()) {
    if (value.status().code() == absl::StatusCode::kNotFound) return api::NotFound(nst->Target(ns));
    return value.status();
  }
  if (value->find("\"deletionTimestamp\"") != std::string::npos) {
    auto obj = json::ParseStored(*value);
    if (obj.ok() && obj->Get({"metadata", "deletionTimestamp"}) != nullptr) {
      return api::Forbidden(StrCat("unable to create new content in namespace ", ns,
                                   " because it is being terminated"));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::apiserver::registry
