// File: apiserver/registry/kinds/node/node_strategy.cc
// Nodes: agents register them with their status in one create.

#include "apiserver/registry/kinds/common/strategy_helpers.h"
#include "apiserver/registry/kinds/strategies.h"

namespace berth::apiserver::registry::kinds {
namespace {

class Node final : public Strategy {
 public:
  // Agents register nodes with their status in one create.
  void PrepareForCreate(json::Value&) const override {}
};

}  // namespace

std::shared_ptr<const Strategy> NodeStrategy() { return Make<Node>(); }

}  // namespace berth::apiserver::registry::kinds
