#pragma once
// File: apiserver/registry/continue_token.h
// The opaque `continue` value of paged lists: base64 of {"v":"meta.k8s.io/v1","rv":N,"start":K},
// the same shape Kubernetes uses.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace berth::apiserver::registry {

struct ContinueToken {
  uint64_t revision = 0;
  std::string start;  // the last key returned; the next page starts after it
};

std::string EncodeContinue(const ContinueToken& token);
// 400 BadRequest for anything that is not a token we issued.
absl::StatusOr<ContinueToken> DecodeContinue(std::string_view text);

}  // namespace berth::apiserver::registry
