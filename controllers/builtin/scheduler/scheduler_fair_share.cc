// File: controllers/builtin/scheduler/scheduler_fair_share.cc
// The Scheduler's fair-share glue: the work queue's ranking by queue, re-deriving queues when
// Queues or namespace labels change, and writing Queue status.
#include "controllers/builtin/scheduler/scheduler.h"
#include "controllers/builtin/scheduler/scheduler_internal.h"

#include <algorithm>
#include <functional>
#include <limits>

#include "controllers/builtin/common/pods.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/resource/pod_resources.h"
#include "core/selector/label_selector.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

using scheduler_internal::Ignorable;
using scheduler_internal::kSystemPriorityFloor;
using scheduler_internal::PriorityOf;

WorkQueue::Rank Scheduler::RankOf(const std::string& key) {
  ObjectPtr pod = pods_.Get(key);
  if (pod == nullptr) return {};
  absl::Time created = ParseRfc3339(pod->GetString({"metadata", "creationTimestamp"}), absl::UnixEpoch());
  std::lock_guard<std::mutex> lock(share_mu_);
  int64_t group = GroupIdLocked(QueueOfNamespaceLocked(pod->GetString({"metadata", "namespace"})));
  // A nominated pod goes first within its queue: its room is already made and held, so it only
  // needs its binding, and behind pods created in the same second (creationTimestamp has no
  // finer grain) it would wait for every one of them to be tried, victims gone or not.
  return {-PriorityOf(*pod), group, nominated_.IsNominated(key) ? 0 : absl::ToUnixMicros(created)};
}

int64_t Scheduler::GroupIdLocked(const std::string& queue) {
  auto [it, added] = group_ids_.emplace(queue, static_cast<int64_t>(group_names_.size()));
  if (added) group_names_.push_back(queue);
  return it->second;
}

std::string Scheduler::QueueOfNamespaceLocked(const std::string& ns) {
  if (auto it = queue_of_ns_.find(ns); it != queue_of_ns_.end()) return it->second;
  ObjectPtr object = namespaces_ ? namespaces_->Get(ns) : nullptr;
  std::string queue = fair_share_.QueueOf(ns, object ? object->Get({"metadata", "labels"}) : nullptr);
  queue_of_ns_[ns] = queue;
  return queue;
}

void Scheduler::RederiveQueuesOnChange(Informer& informer, const char* first, const char* second) {
  auto part = [first, second](const ObjectPtr& o) {
    const json::Value* v = *second ? o->Get({first, second}) : o->Get({first});
    return v ? *v : json::Value();
  };
  auto changed = [this] { OnQueuesChanged(); };
  informer.AddHandlers({
      [changed](const ObjectPtr&) { changed(); },
      [changed, part](const ObjectPtr& before, const ObjectPtr& after) {
        if (!(part(before) == part(after))) changed();
      },
      [changed](const ObjectPtr&) { changed(); },
  });
}

void Scheduler::SetNamespaces(Informer* namespaces) {
  namespaces_ = namespaces;
  RederiveQueuesOnChange(*namespaces_, "metadata", "labels");  // namespaceSelectors read them
}

void Scheduler::SetQueues(Informer* queues) {
  queues_ = queues;
  RederiveQueuesOnChange(*queues_, "spec", "");  // status writes change nothing
  queue_status_ = std::make_unique<Periodic>(absl::Seconds(5), [this] { WriteQueueStatus(); });
}

void Scheduler::OnQueuesChanged() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::lock_guard<std::mutex> share(share_mu_);
    std::vector<QueueSpec> specs;
    if (queues_ != nullptr) {
      for (const ObjectPtr& q : queues_->List()) specs.push_back(QueueSpec::Of(*q));
    }
    fair_share_.SetQueues(std::move(specs));
    queue_of_ns_.clear();
    RechargeLocked();
  }
  RetryUnschedulable();  // a raised max or a new queue may let waiting pods in
}

void Scheduler::RechargeLocked() {
  fair_share_.ClearAllocations();
  for (auto& [key, p] : placed_) {
    p.queue = QueueOfNamespaceLocked(Request::FromKey(key).ns);
    fair_share_.Add(p.queue, p.pod.requests);
  }
}

double Scheduler::ShareForTest(const std::string& queue) {
  std::lock_guard<std::mutex> lock(share_mu_);
  return fair_share_.Share(queue);
}

void Scheduler::WriteQueueStatus() {
  if (queues_ == nullptr) return;
  std::map<std::string, json::Value> statuses;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, int64_t> pending;
    {
      std::lock_guard<std::mutex> share(share_mu_);
      for (const std::string& key : unschedulable_) pending[QueueOfNamespaceLocked(Request::FromKey(key).ns)]++;
      for (const std::string& name : fair_share_.Named()) {
        json::Value status = json::Value::MakeObject();
        json::Value allocated = json::Value::MakeObject();
        for (const auto& [resource, milli] : fair_share_.Allocated(name)) {
          // Bytes read best with binary suffixes, as kubectl prints them.
          bool bytes = resource == "memory" || resource == "ephemeral-storage" || resource.rfind("hugepages-", 0) == 0;
          allocated.Set(resource, resource::FormatMilli(milli, bytes ? "1Mi" : ""));
        }
        status.Set("allocated", std::move(allocated));
        char share[32];
        std::snprintf(share, sizeof(share), "%.3f", fair_share_.Share(name));
        status.Set("weightedDominantShare", std::string(share));
        status.Set("pendingPods", pending[name]);
        statuses[name] = std::move(status);
      }
    }
  }
  for (auto& [name, status] : statuses) {
    std::string text = json::Serialize(status);
    if (status_written_[name] == text) continue;
    ObjectPtr cached = queues_->Get(name);
    if (cached == nullptr) continue;
    json::Value updated = *cached;
    updated.Set("status", std::move(status));
    auto r = api_.UpdateStatus(client::resources::kQueues, updated);
    if (r.ok()) {
      status_written_[name] = text;
    } else if (r.status().code() != absl::StatusCode::kAborted && r.status().code() != absl::StatusCode::kNotFound) {
      BERTH_LOG(Warning, "controllers.scheduler", "Writing a Queue's status failed", "queue", name, "error", r.status().ToString());
    }
  }
}

}  // namespace berth::controllers::builtin
