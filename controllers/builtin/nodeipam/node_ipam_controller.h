#pragma once
// File: controllers/builtin/nodeipam/node_ipam_controller.h
// Gives every Node without one a spec.podCIDR (and podCIDRs) from the cluster CIDR, once: the
// apiserver refuses to change it afterwards. Taken subnets are rebuilt from the Nodes each time
// (nothing to lose in a restart), and a deleted Node's subnet is free again. A Node that names
// a podCIDR outside the cluster CIDR or one another Node holds gets a Warning Event.

#include <map>
#include <mutex>
#include <string>

#include "controllers/builtin/nodeipam/cidr_allocator.h"
#include "controllers/runtime/controller.h"
#include "controllers/runtime/event_recorder.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

class NodeIpamController final : public Reconciler {
 public:
  NodeIpamController(client::ApiClient& api, Informer& nodes, CidrAllocator allocator, const Clock& clock = RealClock::Get());
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token stop) override;
  Controller& controller() { return controller_; }
  void SetEventRecorder(EventRecorder* events) { events_ = events; }

 private:
  client::ApiClient& api_;
  Informer& nodes_;
  const CidrAllocator empty_;  // the range, nothing taken: rebuilt per allocation
  EventRecorder* events_ = nullptr;
  std::mutex mu_;
  // Subnets written but perhaps not yet seen through the informer, by node name.
  std::map<std::string, net::Ipv4Prefix> in_flight_;
  Controller controller_;
};

}  // namespace berth::controllers::builtin
