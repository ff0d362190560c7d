#include "apiserver/storage/memory/memory_store.h"

#include "unit/apiserver/storage/store_conformance.h"

namespace berth::apiserver::storage {
namespace {

struct MemoryFactory {
  std::unique_ptr<Store> Make(berth::testing::FakeClock& clock, RetentionPolicy retention) {
    return std::make_unique<MemoryStore>(clock, retention);
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Memory, StoreConformanceTest, MemoryFactory);

}  // namespace
}  // namespace berth::apiserver::storage
