// File: apiserver/registry/kinds/job/job_strategy.cc
// Jobs: defaults, the generated selector and labels, restartPolicy Never or OnFailure, and the
// immutable template.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry::kinds {
namespace {

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

}  // namespace

std::shared_ptr<const Strategy> JobStrategy() { return Make<Job>(); }

}  // namespace berth::apiserver::registry::kinds
