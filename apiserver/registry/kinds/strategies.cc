#include "apiserver/registry/kinds/strategies.h"

#include "apiserver/registry/kinds/common/strategy_helpers.h"

namespace berth::apiserver::registry::kinds {

// The kinds' own strategies live in kinds/<kind>/; this is the one for kinds with no rules.
std::shared_ptr<const Strategy> DefaultStrategy() { return Make<Strategy>(); }

}  // namespace berth::apiserver::registry::kinds
