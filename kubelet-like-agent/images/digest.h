#pragma once
// File: kubelet-like-agent/images/digest.h
// Content digests as the OCI image spec writes them ("sha256:<64 lowercase hex>"): every blob
// the agent takes from a registry or an archive is hashed while it streams and refused when
// the hash differs from the digest that named it.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace berth::agent::images {

// True for "sha256:" followed by exactly 64 lowercase hex digits (the only algorithm the
// store keeps; anything else is refused before it can name a path).
bool IsSha256Digest(std::string_view digest);

// The 64 hex digits of a sha256 digest (precondition: IsSha256Digest).
inline std::string_view DigestHex(std::string_view digest) { return digest.substr(7); }

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // "sha256:<hex>"; ends the hash.
  std::string Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Of(std::string_view data);
// Hashes a file: "sha256:<hex>", or why it could not be read.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

// kDataLoss naming both digests when `actual` is not `expected`.
absl::Status CheckDigest(std::string_view what, std::string_view expected, std::string_view actual);

}  // namespace berth::agent::images
