#include "apiserver/registry/admission/service_account.h"

#include "apiserver/registry/object_meta.h"
#include "apiserver/registry/registry.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

constexpr char kMirrorAnnotation[] = "kubernetes.io/config.mirror";

json::Value TokenVolume(const std::string& name) {
  return *json::Parse(StrCat(R"({"name":")", name, R"(","projected":{"sources":[)",
                             R"({"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},)",
                             R"({"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},)",
                             R"({"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}],)",
                             R"("defaultMode":420}})"));
}

bool MountsTokenPath(const json::Value& container) {
  const json::Value* mounts = container.Find("volumeMounts");
  if (mounts == nullptr || !mounts->is_array()) return false;
  for (const json::Value& m : mounts->as_array()) {
    if (m.GetString({"mountPath"}) == kServiceAccountMountPath) return true;
  }
  return false;
}

class ServiceAccountPlugin final : public AdmissionPlugin {
 public:
  explicit ServiceAccountPlugin(bool mount_tokens) : mount_tokens_(mount_tokens) {}

  absl::Status Mutate(const AdmissionAttributes& attrs, json::Value& pod) const override {
    if (attrs.operation != AdmissionOperation::kCreate || !attrs.type.group.empty() || attrs.type.plural != "pods") {
      return absl::OkStatus();
    }
    // Mirror pods come from a node's static manifests and have no API identity.
    if (!pod.GetString({"metadata", "annotations", kMirrorAnnotation}).empty()) return absl::OkStatus();
    json::Value& spec = pod.Ensure({"spec"});
    std::string name = spec.GetString({"serviceAccountName"});
    if (name.empty()) {
      name = spec.GetString({"serviceAccount"}, "default");  // the deprecated alias
      spec.Set("serviceAccountName", name);
    }
    std::string ns = pod.GetString({"metadata", "namespace"});
    const ResourceType* accounts = attrs.registry.catalog().Find("", "v1", "serviceaccounts");
    std::optional<json::Value> account;
    if (auto stored = attrs.registry.Get(*accounts, ns, name); stored.ok()) {
      if (auto parsed = json::ParseStored(*stored); parsed.ok()) account = *std::move(parsed);
    } else if (stored.status().code() != absl::StatusCode::kNotFound || name != "default") {
      return api::Forbidden(attrs.type.Target(pod.GetString({"metadata", "name"})),
                            StrCat("error looking up service account ", ns, "/", name, ": ", stored.status().message()));
    }
    if (account) {
      const json::Value* pulls = spec.Find("imagePullSecrets");
      const json::Value* inherited = account->Find("imagePullSecrets");
      if ((pulls == nullptr || !pulls->is_array() || pulls->as_array().empty()) && inherited && inherited->is_array() &&
          !inherited->as_array().empty()) {
        spec.Set("imagePullSecrets", *inherited);
      }
    }
    if (!mount_tokens_ || !Automount(spec, account)) return absl::OkStatus();
    std::string volume;
    for (const char* field : {"initContainers", "containers"}) {
      json::Value* list = spec.Find(field);
      if (list == nullptr || !list->is_array()) continue;
      for (json::Value& c : list->as_array()) {
        if (!c.is_object() || MountsTokenPath(c)) continue;
        if (volume.empty()) volume = StrCat("kube-api-access-", GenerateNameSuffix());
        json::Value mount = json::Value::MakeObject();
        mount.Set("name", volume);
        mount.Set("readOnly", true);
        mount.Set("mountPath", kServiceAccountMountPath);
        json::Value& mounts = c.Ensure({"volumeMounts"});
        if (!mounts.is_array()) mounts = json::Value::MakeArray();
        mounts.as_array().push_back(std::move(mount));
      }
    }
    if (volume.empty()) return absl::OkStatus();
    json::Value& volumes = spec.Ensure({"volumes"});
    if (!volumes.is_array()) volumes = json::Value::MakeArray();
    volumes.as_array().push_back(TokenVolume(volume));
    return absl::OkStatus();
  }

 private:
  static bool Automount(const json::Value& spec, const std::optional<json::Value>& account) {
    if (const json::Value* v = spec.Find("automountServiceAccountToken"); v && v->is_bool()) return v->as_bool();
    if (account) {
      if (const json::Value* v = account->Find("automountServiceAccountToken"); v && v->is_bool()) return v->as_bool();
    }
    return true;
  }
  const bool mount_tokens_;
};

}  // namespace

std::shared_ptr<const AdmissionPlugin> ServiceAccountAdmission(bool mount_tokens) {
  return std::make_shared<ServiceAccountPlugin>(mount_tokens);
}

}  // namespace berth::apiserver::registry
