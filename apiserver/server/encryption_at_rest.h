#pragma once
// File: apiserver/server/encryption_at_rest.h
// Turning encryption at rest on, or rotating its key, leaves objects written the old way: at
// start every such object is written again with the current key (as `kubectl get secrets -A -o
// json | kubectl replace -f -` does upstream), each under a new revision with its
// resourceVersion stamped, so clients see an ordinary update.

#include "absl/status/statusor.h"
#include "apiserver/storage/encrypting_store.h"

namespace berth::apiserver::server {

// The number of objects rewritten.
absl::StatusOr<size_t> RewriteStaleObjects(storage::EncryptingStore& store);

}  // namespace berth::apiserver::server
