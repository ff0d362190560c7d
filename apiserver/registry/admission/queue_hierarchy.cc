#include "apiserver/registry/admission/queue_hierarchy.h"

#include <map>
#include <string>

#include "apiserver/registry/registry.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {
namespace {

class QueueHierarchy final : public AdmissionPlugin {
 public:
  absl::Status Validate(const AdmissionAttributes& attrs, const json::Value& object) const override {
    if (attrs.type.group != "scheduling.berth.dev" || attrs.type.plural != "queues") return absl::OkStatus();
    std::string name = object.GetString({"metadata", "name"});
    // Every queue's parent, with this one as it would be stored.
    std::map<std::string, std::string> parent_of;
    BERTH_ASSIGN_OR_RETURN(ListPage page, attrs.registry.List(attrs.type, "", {}));
    for (const std::string& item : page.items) {
      BERTH_ASSIGN_OR_RETURN(json::Value q, json::Parse(item));
      parent_of[q.GetString({"metadata", "name"})] = q.GetString({"spec", "parent"});
    }
    std::string parent = object.GetString({"spec", "parent"});
    parent_of[name] = parent;
    // Walk up from every queue: a loop through this one, or a chain deeper than allowed, is
    // this change's doing (the stored tree was valid).
    for (const auto& [start, unused] : parent_of) {
      int depth = 1;
      bool through_this = start == name;
      for (std::string at = parent_of[start]; !at.empty() && parent_of.count(at); at = parent_of[at]) {
        through_this = through_this || at == name;
        if (at == start || depth > static_cast<int>(parent_of.size())) {
          if (!through_this) break;
          return Refuse(attrs, name, parent, "would form a cycle");
        }
        ++depth;
      }
      if (depth > kMaxQueueDepth && through_this) {
        return Refuse(attrs, name, parent, StrCat("queues may nest at most ", kMaxQueueDepth, " deep (queue ", start, " would be at depth ", depth, ")"));
      }
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status Refuse(const AdmissionAttributes& attrs, const std::string& name, const std::string& parent,
                             const std::string& why) {
    return api::Invalid(attrs.type.Target(name), {{"FieldValueInvalid", StrCat("Invalid value: \"", parent, "\": ", why), "spec.parent"}});
  }
};

}  // namespace

std::shared_ptr<const AdmissionPlugin> QueueHierarchyAdmission() { return std::make_shared<QueueHierarchy>(); }

}  // namespace berth::apiserver::registry
