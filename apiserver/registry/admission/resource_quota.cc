#include "apiserver/registry/admission/resource_quota.h"

#include <set>

#include "apiserver/registry/registry.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/resource/quantity.h"
#include "core/resource/quota.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

constexpr int kMaxQuotaRetries = 16;
// Kinds whose count Kubernetes also reports under a legacy name.
const std::set<std::string> kLegacyCounted = {"pods", "services", "configmaps", "secrets", "resourcequotas",
                                              "replicationcontrollers", "persistentvolumeclaims"};

std::string CountName(const ResourceType& type) {
  return type.group.empty() ? "count/" + type.plural : StrCat("count/", type.plural, ".", type.group);
}

class ResourceQuota final : public AdmissionPlugin {
 public:
  explicit ResourceQuota(Registry& registry) : registry_(registry) {}

  absl::Status Validate(const AdmissionAttributes& attrs, const json::Value& object) const override {
    if (attrs.operation != AdmissionOperation::kCreate || !attrs.type.namespaced) return absl::OkStatus();
    const ResourceType* quotas = registry_.catalog().Find("", "v1", "resourcequotas");
    std::string ns = object.GetString({"metadata", "namespace"});
    bool is_pod = attrs.type.group.empty() && attrs.type.plural == "pods";
    // What this object uses, under every name a quota may limit.
    resource::ResourceList use = {{CountName(attrs.type), 1000}};
    if (kLegacyCounted.count(attrs.type.plural) && attrs.type.group.empty()) use[attrs.type.plural] = 1000;
    if (is_pod) use = resource::PodQuotaUsage(object);
    api::Target target = attrs.type.Target(object.GetString({"metadata", "name"}));
    target.kind.clear();

    for (int attempt = 0;; ++attempt) {
      BERTH_ASSIGN_OR_RETURN(std::vector<std::string> items, registry_.ListAll(*quotas, ns));
      if (items.empty()) return absl::OkStatus();
      std::vector<json::Value> charged;
      for (const std::string& item : items) {
        BERTH_ASSIGN_OR_RETURN(json::Value quota, json::Parse(item));
        if (is_pod && !resource::QuotaMatchesPod(quota, object)) continue;
        std::map<std::string, std::string> hard_text;
        resource::ResourceList hard = resource::QuotaHard(quota, &hard_text);
        std::string quota_name = quota.GetString({"metadata", "name"});
        if (is_pod) {
          if (auto missing = resource::MissingPodQuotaFields(quota, object); !missing.empty()) {
            return api::Forbidden(target, StrCat("failed quota: ", quota_name, ": must specify ", Join(missing, ",")));
          }
        }
        resource::ResourceList used;
        if (const json::Value* u = quota.Get({"status", "used"}); u && u->is_object()) {
          for (const auto& [name, q] : u->as_object()) used[name] = resource::MilliOf(&q);
        }
        std::vector<std::string> requested, in_use, limited;
        bool touches = false;
        for (const auto& [name, limit] : hard) {
          auto it = use.find(name);
          if (it == use.end() || it->second == 0) continue;
          touches = true;
          if (used[name] + it->second > limit) {
            const std::string& like = hard_text[name];
            requested.push_back(StrCat(name, "=", resource::FormatMilli(it->second, like)));
            in_use.push_back(StrCat(name, "=", resource::FormatMilli(used[name], like)));
            limited.push_back(StrCat(name, "=", hard_text[name].empty() ? resource::FormatMilli(limit) : hard_text[name]));
          }
        }
        if (!requested.empty()) {
          return api::Forbidden(target, StrCat("exceeded quota: ", quota_name, ", requested: ", Join(requested, ","),
                                               ", used: ", Join(in_use, ","), ", limited: ", Join(limited, ",")));
        }
        if (!touches) continue;
        // Charge the quota now; the quota controller corrects it if the create fails later.
        json::Value& status_used = quota.Ensure({"status", "used"});
        if (!status_used.is_object()) status_used = json::Value::MakeObject();
        for (const auto& [name, limit] : hard) {
          auto it = use.find(name);
          int64_t total = used[name] + (it == use.end() ? 0 : it->second);
          status_used.Set(name, resource::FormatMilli(total, hard_text[name]));
        }
        quota.Ensure({"status"}).Set("hard", *quota.Get({"spec", "hard"}));
        charged.push_back(std::move(quota));
      }
      if (attrs.dry_run) return absl::OkStatus();
      bool conflict = false;
      for (const json::Value& quota : charged) {
        auto r = registry_.Update(*quotas, ns, quota.GetString({"metadata", "name"}), quota, Subresource::kStatus, {});
        if (!r.ok()) {
          if (r.status().code() != absl::StatusCode::kAborted) return r.status();
          conflict = true;
          break;
        }
      }
      if (!conflict) return absl::OkStatus();
      if (attempt >= kMaxQuotaRetries) {
        return api::Conflict(target, "the resource quota was modified by too many concurrent writes; try again");
      }
    }
  }

 private:
  Registry& registry_;
};

}  // namespace

std::shared_ptr<const AdmissionPlugin> ResourceQuotaAdmission(Registry& registry) {
  return std::make_shared<ResourceQuota>(registry);
}

}  // namespace berth::apiserver::registry
