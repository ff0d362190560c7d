// File: controllers/builtin/nodeipam/node_ipam_controller.cc
#include "controllers/builtin/nodeipam/node_ipam_controller.h"

#include "absl/strings/str_cat.h"
#include "core/log/log.h"

namespace berth::controllers::builtin {

NodeIpamController::NodeIpamController(client::ApiClient& api, Informer& nodes, CidrAllocator allocator, const Clock& clock)
    : api_(api), nodes_(nodes), empty_(std::move(allocator)), controller_("nodeipam", *this, clock, 1) {
  nodes_.AddHandlers({[this](const ObjectPtr& n) { controller_.Enqueue(Informer::KeyOf(*n)); },
                      [this](const ObjectPtr&, const ObjectPtr& n) { controller_.Enqueue(Informer::KeyOf(*n)); },
                      [this](const ObjectPtr& n) { controller_.Enqueue(Informer::KeyOf(*n)); }});
}

absl::StatusOr<Result> NodeIpamController::Reconcile(const Request& request, std::stop_token) {
  // One worker: allocations never race each other.
  ObjectPtr node = nodes_.Get(request.name);
  std::lock_guard<std::mutex> lock(mu_);
  if (node == nullptr) {
    in_flight_.erase(request.name);  // its subnet is free: no Node names it any more
    return Result{};
  }
  CidrAllocator allocator = empty_;
  std::map<std::string, std::string> holder;  // subnet -> node
  std::string mine = node->GetString({"spec", "podCIDR"});
  for (const ObjectPtr& other : nodes_.List()) {
    std::string name = other->GetString({"metadata", "name"});
    std::string cidr = other->GetString({"spec", "podCIDR"});
    if (cidr.empty()) continue;
    in_flight_.erase(name);  // seen through the informer now
    auto prefix = net::ParseIpv4Prefix(cidr);
    if (!prefix.ok() || !allocator.Occupy(*prefix)) continue;
    if (name != request.name && cidr == mine && events_ != nullptr) {
      events_->Record(*node, "Warning", "CIDRNotAvailable", absl::StrCat("podCIDR ", cidr, " is also Node ", name, "'s"));
    }
  }
  for (const auto& [name, prefix] : in_flight_) allocator.Occupy(prefix);
  if (!mine.empty()) {
    auto prefix = net::ParseIpv4Prefix(mine);
    CidrAllocator probe = empty_;
    if ((!prefix.ok() || !probe.Occupy(*prefix)) && events_ != nullptr) {
      events_->Record(*node, "Warning", "CIDRNotAvailable",
                      absl::StrCat("podCIDR ", mine, " is not a subnet this controller hands out from the cluster CIDR"));
    }
    return Result{};
  }
  auto subnet = allocator.Allocate();
  if (!subnet.ok()) {
    if (events_ != nullptr) events_->Record(*node, "Warning", "CIDRNotAvailable", std::string(subnet.status().message()));
    return Result{absl::Seconds(30)};
  }
  json::Value patch = json::Value::MakeObject();
  json::Value& spec = patch.Ensure({"spec"});
  spec.Set("podCIDR", subnet->ToString());
  spec.Set("podCIDRs", json::Value(json::Array{json::Value(subnet->ToString())}));
  // Only if the Node is the one we looked at: a resourceVersion precondition in the patch.
  patch.Ensure({"metadata"}).Set("resourceVersion", node->GetString({"metadata", "resourceVersion"}));
  auto patched = api_.Patch(client::resources::kNodes, "", request.name, patch, "application/merge-patch+json");
  if (!patched.ok()) {
    if (patched.status().code() == absl::StatusCode::kNotFound) return Result{};
    return patched.status();  // a conflict: requeued, and decided again on the newer Node
  }
  in_flight_[request.name] = *subnet;
  BERTH_LOG(Info, "nodeipam", "Assigned a pod CIDR", "node", request.name, "podCIDR", subnet->ToString());
  if (events_ != nullptr) events_->Record(*patched, "Normal", "CIDRAssignmentSucceeded", absl::StrCat("Node ", request.name, " got podCIDR ", subnet->ToString()));
  return Result{};
}

}  // namespace berth::controllers::builtin
