#include "apiserver/server/encryption_at_rest.h"

#include "apiserver/registry/object_meta.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {

absl::StatusOr<size_t> RewriteStaleObjects(storage::EncryptingStore& store) {
  auto stale = store.StaleObjects();
  if (!stale.ok()) return stale.status();
  size_t rewritten = 0;
  for (storage::KeyValue& kv : *stale) {
    auto object = json::ParseStored(kv.value);
    if (!object.ok()) return absl::DataLossError(StrCat("rewriting ", kv.key, ": ", object.status().message()));
    registry::StampedObject stamped = registry::Stamp(*object);
    auto done = store.Update(kv.key, [stamped](uint64_t revision) { return stamped.With(revision); }, kv.revision);
    // Changed or deleted meanwhile: the writer wrote it with the current key.
    if (!done.ok() && !absl::IsAborted(done.status()) && !absl::IsNotFound(done.status())) return done.status();
    if (done.ok()) ++rewritten;
  }
  return rewritten;
}

}  // namespace berth::apiserver::server
