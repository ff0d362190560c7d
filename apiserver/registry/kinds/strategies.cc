#include "apiserver/registry/kinds/strategies.h"

#include "apiserver/registry/kinds/configmap/data_keys.h"
#include "apiserver/registry/kinds/pod_defaults.h"
#include "core/cron/cron_schedule.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

void SetIfAbsent(json::Value& obj, std::string_view key, json::Value v) {
  const json::Value* cur = obj.Find(key);
  if (cur == nullptr || cur->is_null()) obj.Set(key, std::move(v));
}

json::Value* Spec(json::Value& object) {
  json::Value* spec = object.Find("spec");
  return spec && spec->is_object() ? spec : nullptr;
}

void DefaultTemplate(json::Value& object) {
  if (json::Value* spec = Spec(object)) {
    if (json::Value* t = spec->Find("template"); t && t->is_object()) {
      if (json::Value* ps = t->Find("spec")) DefaultPodSpec(*ps);
    }
  }
}

std::vector<api::Cause> TemplateCauses(const json::Value& object) {
  const json::Value* ps = object.Get({"spec", "template", "spec"});
  return ps ? ValidatePodSpec(*ps, "spec.template.spec") : std::vector<api::Cause>{};
}

// Deployments, ReplicaSets and DaemonSets: a selector that selects the template, valid pods.
std::vector<api::Cause> ValidateWorkload(const json::Value& object) {
  auto causes = ValidateSelectorMatchesTemplate(object);
  auto more = TemplateCauses(object);
  causes.insert(causes.end(), more.begin(), more.end());
  return causes;
}

std::vector<api::Cause> SelectorImmutable(const json::Value& object, const json::Value& old) {
  const json::Value* a = object.Get({"spec", "selector"});
  const json::Value* b = old.Get({"spec", "selector"});
  if (a && b && !(*a == *b)) {
    return {{"FieldValueInvalid", "Invalid value: field is immutable", "spec.selector"}};
  }
  return {};
}

class Pod final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) DefaultPodSpec(*spec);
  }
  void PrepareForCreate(json::Value& object) const override {
    json::Value status = json::Value::MakeObject();
    status.Set("phase", "Pending");
    const json::Value* spec = object.Find("spec");
    status.Set("qosClass", spec ? QosClass(*spec) : "BestEffort");
    object.Set("status", std::move(status));
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    const json::Value* spec = object.Find("spec");
    return spec ? ValidatePodSpec(*spec, "spec") : std::vector<api::Cause>{};
  }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    // Kubernetes lets a pod update change only images, activeDeadlineSeconds, tolerations
    // and terminationGracePeriodSeconds.
    auto strip = [](const json::Value* spec) {
      json::Value s = spec ? *spec : json::Value::MakeObject();
      for (const char* list : {"containers", "initContainers"}) {
        if (json::Value* cs = s.Find(list); cs && cs->is_array()) {
          for (json::Value& c : cs->as_array()) c.Erase("image");
        }
      }
      for (const char* f : {"activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"}) s.Erase(f);
      return s;
    };
    if (!(strip(object.Find("spec")) == strip(old.Find("spec")))) {
      return {{"FieldValueForbidden",
               "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
               "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` "
               "(only additions to existing tolerations), `spec.terminationGracePeriodSeconds`",
               "spec"}};
    }
    return {};
  }
};

class Namespace final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    json::Value& spec = object["spec"];
    if (!spec.is_object()) spec = json::Value::MakeObject();
    if (spec.Find("finalizers") == nullptr) {
      json::Value f = json::Value::MakeArray();
      f.as_array().push_back("kubernetes");
      spec.Set("finalizers", std::move(f));
    }
    // The name label Kubernetes sets on every namespace.
    object.Ensure({"metadata", "labels"}).Set("kubernetes.io/metadata.name", object.GetString({"metadata", "name"}));
  }
  void PrepareForCreate(json::Value& object) const override {
    json::Value status = json::Value::MakeObject();
    status.Set("phase", "Active");
    object.Set("status", std::move(status));
  }
  bool NameIsLabel() const override { return true; }
};

class Node final : public Strategy {
 public:
  // Agents register nodes with their status in one create.
  void PrepareForCreate(json::Value&) const override {}
};

class Secret final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    SetIfAbsent(object, "type", "Opaque");
    // stringData is write-only: merged into data, base64-encoded, as the apiserver does.
    if (json::Value* sd = object.Find("stringData"); sd && sd->is_object()) {
      json::Value& data = object["data"];
      if (!data.is_object()) data = json::Value::MakeObject();
      for (const auto& [k, v] : sd->as_object()) {
        if (v.is_string()) data.Set(k, Base64(v.as_string()));
      }
      object.Erase("stringData");
    }
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    return ValidateDataKeys(object, {"data"}, {"data"});
  }

 private:
  static std::string Base64(const std::string& in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
      uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
      out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], kAlphabet[n & 63]};
    }
    if (i + 1 == in.size()) {
      uint32_t n = static_cast<uint8_t>(in[i]) << 16;
      out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
      uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
      out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
    }
    return out;
  }
};

// Deployments, ReplicaSets and DaemonSets share their validation; each defaults its own spec.
class Workload : public Strategy {
 public:
  std::vector<api::Cause> Validate(const json::Value& object) const override { return ValidateWorkload(object); }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    return SelectorImmutable(object, old);
  }
};

class Deployment final : public Workload {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) {
      SetIfAbsent(*spec, "replicas", 1);
      SetIfAbsent(*spec, "revisionHistoryLimit", 10);
      SetIfAbsent(*spec, "progressDeadlineSeconds", 600);
      json::Value& strategy = (*spec)["strategy"];
      if (!strategy.is_object()) strategy = json::Value::MakeObject();
      SetIfAbsent(strategy, "type", "RollingUpdate");
      if (strategy.GetString({"type"}) == "RollingUpdate") {
        json::Value& ru = strategy["rollingUpdate"];
        if (!ru.is_object()) ru = json::Value::MakeObject();
        SetIfAbsent(ru, "maxUnavailable", "25%");
        SetIfAbsent(ru, "maxSurge", "25%");
      }
    }
    DefaultTemplate(object);
  }
};

class ReplicaSet final : public Workload {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) SetIfAbsent(*spec, "replicas", 1);
    DefaultTemplate(object);
  }
};

class DaemonSet final : public Workload {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) {
      SetIfAbsent(*spec, "revisionHistoryLimit", 10);
      json::Value& us = (*spec)["updateStrategy"];
      if (!us.is_object()) us = json::Value::MakeObject();
      SetIfAbsent(us, "type", "RollingUpdate");
      if (us.GetString({"type"}) == "RollingUpdate") {
        json::Value& ru = us["rollingUpdate"];
        if (!ru.is_object()) ru = json::Value::MakeObject();
        SetIfAbsent(ru, "maxUnavailable", 1);
        SetIfAbsent(ru, "maxSurge", 0);
      }
    }
    DefaultTemplate(object);
  }
};

class Job final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) {
      bool has_completions = spec->Find("completions") != nullptr;
      bool has_parallelism = spec->Find("parallelism") != nullptr;
      if (!has_completions && !has_parallelism) spec->Set("completions", 1);
      SetIfAbsent(*spec, "parallelism", 1);
      SetIfAbsent(*spec, "backoffLimit", 6);
      SetIfAbsent(*spec, "completionMode", "NonIndexed");
      SetIfAbsent(*spec, "suspend", false);
      if (json::Value* t = spec->Find("template"); t && t->is_object()) {
        if (json::Value* ps = t->Find("spec"); ps && ps->is_object()) {
          // Jobs have no default restartPolicy in Kubernetes; "Always" must be rejected, so
          // default before DefaultPodSpec would set it.
          SetIfAbsent(*ps, "restartPolicy", "");
        }
      }
    }
    DefaultTemplate(object);
  }
  void PrepareForCreate(json::Value& object) const override {
    object.Erase("status");
    // Generated selector, as the Job controller's manualSelector=false path does.
    const json::Value* manual = object.Get({"spec", "manualSelector"});
    if (manual && manual->is_bool() && manual->as_bool()) return;
    std::string uid = object.GetString({"metadata", "uid"});
    std::string name = object.GetString({"metadata", "name"});
    json::Value& labels = object.Ensure({"spec", "template", "metadata", "labels"});
    if (!labels.is_object()) labels = json::Value::MakeObject();
    labels.Set("batch.kubernetes.io/controller-uid", uid);
    labels.Set("batch.kubernetes.io/job-name", name);
    labels.Set("controller-uid", uid);
    labels.Set("job-name", name);
    json::Value selector = json::Value::MakeObject();
    selector.Ensure({"matchLabels"}).Set("batch.kubernetes.io/controller-uid", uid);
    object["spec"].Set("selector", std::move(selector));
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes = TemplateCauses(object);
    std::string rp = object.GetString({"spec", "template", "spec", "restartPolicy"});
    if (rp != "Never" && rp != "OnFailure") {
      causes.push_back({"FieldValueNotSupported",
                        StrCat("Unsupported value: \"", rp, "\": supported values: \"OnFailure\", \"Never\""),
                        "spec.template.spec.restartPolicy"});
    }
    return causes;
  }
  std::vector<api::Cause> ValidateUpdate(const json::Value& object, const json::Value& old) const override {
    auto causes = SelectorImmutable(object, old);
    const json::Value* a = object.Get({"spec", "template"});
    const json::Value* b = old.Get({"spec", "template"});
    if (a && b && !(*a == *b)) {
      causes.push_back({"FieldValueInvalid", "Invalid value: field is immutable", "spec.template"});
    }
    return causes;
  }
};

class CronJob final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    if (json::Value* spec = Spec(object)) {
      SetIfAbsent(*spec, "concurrencyPolicy", "Allow");
      SetIfAbsent(*spec, "suspend", false);
      SetIfAbsent(*spec, "successfulJobsHistoryLimit", 3);
      SetIfAbsent(*spec, "failedJobsHistoryLimit", 1);
      if (spec->Get({"jobTemplate", "spec", "template", "spec"}) != nullptr) {
        DefaultPodSpec(spec->Ensure({"jobTemplate", "spec", "template", "spec"}));
      }
    }
  }
  std::vector<api::Cause> Validate(const json::Value& object) const override {
    std::vector<api::Cause> causes;
    std::string schedule = object.GetString({"spec", "schedule"});
    if (schedule.rfind("TZ=", 0) == 0 || schedule.rfind("CRON_TZ=", 0) == 0) {
      causes.push_back({"FieldValueInvalid", "Invalid value: TZ and CRON_TZ are not supported in the schedule; use spec.timeZone",
                        "spec.schedule"});
    } else if (auto parsed = cron::CronSchedule::Parse(schedule); !parsed.ok()) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", schedule, "\": ", Sv(parsed.status().message())),
                        "spec.schedule"});
    }
    std::string tz = object.GetString({"spec", "timeZone"});
    absl::TimeZone zone;
    if (!tz.empty() && !absl::LoadTimeZone(tz, &zone)) {
      causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", tz, "\": unknown time zone"), "spec.timeZone"});
    }
    return causes;
  }
};

class PriorityClass final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    SetIfAbsent(object, "preemptionPolicy", "PreemptLowerPriority");
  }
};

template <typename T>
std::shared_ptr<const Strategy> Make() {
  static auto* s = new std::shared_ptr<const Strategy>(std::make_shared<T>());
  return *s;
}

}  // namespace

std::shared_ptr<const Strategy> DefaultStrategy() { return Make<Strategy>(); }
std::shared_ptr<const Strategy> PodStrategy() { return Make<Pod>(); }
std::shared_ptr<const Strategy> NamespaceStrategy() { return Make<Namespace>(); }
std::shared_ptr<const Strategy> NodeStrategy() { return Make<Node>(); }
// Services are stored and listed (manifests that include one apply, `kubectl get svc` and
// `cluster-info` work) but nothing routes them yet: no cluster IP is allocated and there is no
// service proxy. Creates and updates say so in a Warning header rather than pretending.
class Service final : public Strategy {
 public:
  void Default(json::Value& object) const override {
    json::Value& spec = object.Ensure({"spec"});
    SetIfAbsent(spec, "type", "ClusterIP");
    SetIfAbsent(spec, "sessionAffinity", "None");
    if (json::Value* ports = spec.Find("ports"); ports && ports->is_array()) {
      for (json::Value& p : ports->as_array()) {
        if (!p.is_object()) continue;
        SetIfAbsent(p, "protocol", "TCP");
        if (!p.Find("targetPort") && p.Find("port")) p.Set("targetPort", *p.Find("port"));
      }
    }
  }
  std::vector<std::string> Warnings(const json::Value&) const override {
    return {"Berth stores Services but does not route them yet: no cluster IP is allocated and there is no service proxy"};
  }
};

std::shared_ptr<const Strategy> SecretStrategy() { return Make<Secret>(); }
std::shared_ptr<const Strategy> ServiceStrategy() { return Make<Service>(); }
std::shared_ptr<const Strategy> DeploymentStrategy() { return Make<Deployment>(); }
std::shared_ptr<const Strategy> ReplicaSetStrategy() { return Make<ReplicaSet>(); }
std::shared_ptr<const Strategy> DaemonSetStrategy() { return Make<DaemonSet>(); }
std::shared_ptr<const Strategy> JobStrategy() { return Make<Job>(); }
std::shared_ptr<const Strategy> CronJobStrategy() { return Make<CronJob>(); }
std::shared_ptr<const Strategy> PriorityClassStrategy() { return Make<PriorityClass>(); }

}  // namespace berth::apiserver::registry::kinds
