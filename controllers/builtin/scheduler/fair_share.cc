#include "controllers/builtin/scheduler/fair_share.h"

#include <algorithm>

#include "core/resource/pod_resources.h"
#include "core/resource/quantity.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

namespace {

ResourceMilli ListOf(const json::Value* list) {
  ResourceMilli out;
  if (list == nullptr || !list->is_object()) return out;
  for (const auto& [name, q] : list->as_object()) out[name] = resource::MilliOf(&q);
  return out;
}

}  // namespace

QueueSpec QueueSpec::Of(const json::Value& queue) {
  QueueSpec q;
  q.name = queue.GetString({"metadata", "name"});
  q.parent = queue.GetString({"spec", "parent"});
  if (const json::Value* w = queue.Get({"spec", "weight"}); w && w->is_int() && w->as_int() > 0) q.weight = w->as_int();
  q.guaranteed = ListOf(queue.Get({"spec", "guaranteed"}));
  q.max = ListOf(queue.Get({"spec", "max"}));
  if (const json::Value* sel = queue.Get({"spec", "namespaceSelector"}); sel && sel->is_object()) {
    if (auto parsed = selector::LabelSelector::FromObject(*sel); parsed.ok()) q.namespace_selector = std::move(*parsed);
  }
  return q;
}

ResourceMilli FairShare::VectorOf(const PodRequests& r) {
  ResourceMilli v = r.scalar;
  if (r.cpu_milli) v["cpu"] = r.cpu_milli;
  if (r.memory_milli) v["memory"] = r.memory_milli;
  return v;
}

void FairShare::SetQueues(std::vector<QueueSpec> queues) {
  queues_.clear();
  for (QueueSpec& q : queues) queues_[q.name] = std::move(q);
  // Allocations are per queue and its ancestors: a changed tree needs them charged again.
  allocated_.clear();
}

const QueueSpec* FairShare::Find(const std::string& queue) const {
  auto it = queues_.find(queue);
  return it == queues_.end() ? nullptr : &it->second;
}

std::string FairShare::ParentOf(const std::string& queue) const {
  const QueueSpec* q = Find(queue);
  if (q == nullptr || q->parent.empty() || Find(q->parent) == nullptr) return "";
  return q->parent;
}

std::vector<std::string> FairShare::Chain(const std::string& queue) const {
  std::vector<std::string> chain;
  // Bounded: admission keeps the tree acyclic and shallow, but a stale cache must not loop.
  for (std::string at = queue; !at.empty() && chain.size() <= queues_.size(); at = ParentOf(at)) chain.push_back(at);
  std::reverse(chain.begin(), chain.end());
  return chain;
}

std::string FairShare::QueueOf(const std::string& ns, const json::Value* ns_labels) const {
  static const json::Value kNoLabels = json::Value::MakeObject();
  for (const auto& [name, q] : queues_) {
    if (q.namespace_selector && q.namespace_selector->Matches(ns_labels ? *ns_labels : kNoLabels)) return name;
  }
  return "ns/" + ns;
}

bool FairShare::Counted(const std::string& resource) const {
  return resource != "pods" && !excluded_.count(resource) && resource.rfind("kubernetes.io/batch-", 0) != 0;
}

void FairShare::Charge(const std::string& queue, const PodRequests& r, int sign) {
  ResourceMilli v = VectorOf(r);
  for (const std::string& q : Chain(queue)) {
    ResourceMilli& a = allocated_[q];
    for (const auto& [name, milli] : v) {
      if ((a[name] += sign * milli) == 0) a.erase(name);
    }
    if (a.empty()) allocated_.erase(q);
  }
}

std::string FairShare::PathOf(const std::string& queue) const {
  std::string path = "root";
  for (const std::string& q : Chain(queue)) path += "." + q;
  return path;
}

ResourceMilli FairShare::Allocated(const std::string& queue) const {
  auto it = allocated_.find(queue);
  return it == allocated_.end() ? ResourceMilli{} : it->second;
}

double FairShare::Share(const std::string& queue) const {
  static const ResourceMilli kNothing;
  auto it = allocated_.find(queue);
  return ShareOf(queue, it == allocated_.end() ? kNothing : it->second);
}

double FairShare::ShareOf(const std::string& queue, const ResourceMilli& allocated) const {
  double dominant = 0;
  for (const auto& [name, milli] : allocated) {
    auto cap = capacity_.find(name);
    if (!Counted(name) || cap == capacity_.end() || cap->second <= 0) continue;
    dominant = std::max(dominant, static_cast<double>(milli) / static_cast<double>(cap->second));
  }
  const QueueSpec* q = Find(queue);
  return dominant / static_cast<double>(q ? q->weight : 1);
}

ResourceMilli FairShare::AllocatedWith(const std::string& queue, const Deltas& deltas) const {
  ResourceMilli held = Allocated(queue);
  for (const auto& [charged, delta] : deltas) {
    std::vector<std::string> chain = Chain(charged);
    if (std::find(chain.begin(), chain.end(), queue) == chain.end()) continue;
    for (const auto& [name, milli] : delta) held[name] += milli;
  }
  return held;
}

std::optional<std::pair<std::string, std::string>> FairShare::Siblings(const std::string& a, const std::string& b) const {
  if (a == b) return std::nullopt;
  std::vector<std::string> ca = Chain(a), cb = Chain(b);
  size_t i = 0;
  while (i < ca.size() && i < cb.size() && ca[i] == cb[i]) ++i;
  if (i == ca.size() || i == cb.size()) return std::nullopt;
  return std::make_pair(ca[i], cb[i]);
}

std::vector<std::string> FairShare::Charged() const {
  std::vector<std::string> out;
  for (const auto& [name, held] : allocated_) out.push_back(name);
  return out;
}

std::string FairShare::MaxReason(const std::string& queue, const PodRequests& r) const {
  ResourceMilli v = VectorOf(r);
  for (const std::string& q : Chain(queue)) {
    const QueueSpec* spec = Find(q);
    if (spec == nullptr) continue;
    ResourceMilli used = Allocated(q);
    for (const auto& [name, limit] : spec->max) {
      auto want = v.find(name);
      if (want == v.end() || want->second <= 0) continue;
      int64_t now = used.count(name) ? used[name] : 0;
      if (now + want->second > limit) {
        return StrCat("queue ", PathOf(q), " at max: ", name, " ", resource::FormatMilli(now), "/", resource::FormatMilli(limit));
      }
    }
  }
  return "";
}

std::optional<bool> FairShare::Before(const std::string& a, const std::string& b) const {
  if (a == b) return std::nullopt;
  std::vector<std::string> ca = Chain(a), cb = Chain(b);
  size_t i = 0;
  while (i < ca.size() && i < cb.size() && ca[i] == cb[i]) ++i;
  // One is the other's ancestor (pods charged to an inner queue): compare those two.
  const std::string& x = i < ca.size() ? ca[i] : ca.back();
  const std::string& y = i < cb.size() ? cb[i] : cb.back();
  // A queue below its guarantee goes before one that is not (as YuniKorn orders queues): its
  // share may already be above a sibling's, yet the room it is owed must not go to that sibling.
  if (bool bx = BelowGuarantee(x), by = BelowGuarantee(y); bx != by) return bx;
  double sx = Share(x), sy = Share(y);
  if (sx == sy) return std::nullopt;
  return sx < sy;
}

bool FairShare::BelowGuarantee(const std::string& queue) const {
  const QueueSpec* spec = Find(queue);
  if (spec == nullptr) return false;
  // Asked at every comparison of the work queue's heads: read the allocation, do not copy it.
  auto alloc = allocated_.find(queue);
  for (const auto& [name, guaranteed] : spec->guaranteed) {
    int64_t used = 0;
    if (alloc != allocated_.end()) {
      if (auto r = alloc->second.find(name); r != alloc->second.end()) used = r->second;
    }
    if (guaranteed > 0 && used < guaranteed) return true;
  }
  return false;
}

std::vector<std::string> FairShare::Named() const {
  std::vector<std::string> out;
  for (const auto& [name, q] : queues_) out.push_back(name);
  return out;
}

}  // namespace berth::controllers::builtin
