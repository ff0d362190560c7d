#pragma once
// File: core/jwt/jwt.h
// JSON Web Tokens signed with RS256 (RSASSA-PKCS1-v1_5 over SHA-256), the only algorithm
// Kubernetes' ServiceAccount issuer uses and every JWT/OIDC consumer accepts. Compact form:
// base64url(header) "." base64url(claims) "." base64url(signature), no padding. The key id is
// Kubernetes' own: base64url(SHA-256 of the public key's DER SubjectPublicKeyInfo), so tokens
// carry the same `kid` kube-apiserver would give them for the same key.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::jwt {

// A fresh RSA private key (PKCS#8 PEM) of `bits` bits.
absl::StatusOr<std::string> NewRsaKeyPem(int bits = 2048);

// The three parts of a token, decoded but not verified.
struct DecodedToken {
  json::Value header;
  json::Value claims;
  std::string signing_input;  // header "." claims, as sent
  std::string signature;      // raw bytes
};

// InvalidArgument when `token` is not three base64url parts of which the first two are JSON
// objects. Never reads past `token`; safe on any input (fuzzed).
absl::StatusOr<DecodedToken> Decode(std::string_view token);

// True when `token` has the shape of a JWT (three dot-separated parts), so an authenticator can
// tell it from an opaque token without decoding it.
bool LooksLikeJwt(std::string_view token);

struct KeyHandle;  // OpenSSL's key, owned

class Rs256Signer {
 public:
  // From a private key PEM (PKCS#8 or PKCS#1); InvalidArgument when it is not an RSA key.
  static absl::StatusOr<Rs256Signer> FromPrivateKeyPem(const std::string& pem);

  // header {"alg":"RS256","kid":key_id()} and `claims`, signed.
  absl::StatusOr<std::string> Sign(const json::Value& claims) const;
  const std::string& key_id() const { return key_id_; }
  // The public half, PEM (SubjectPublicKeyInfo), for verifiers and the JWKS document.
  const std::string& public_key_pem() const { return public_pem_; }

 private:
  std::shared_ptr<KeyHandle> key_;
  std::string key_id_, public_pem_;
};

class Rs256Verifier {
 public:
  // From a public key PEM, or a private key PEM (its public half is used).
  static absl::StatusOr<Rs256Verifier> FromPem(const std::string& pem);

  // The token's claims when its header says RS256 (and, if it names one, this key's kid) and
  // the signature verifies; Unauthenticated otherwise, with the reason. Time-based claims are
  // the caller's business.
  absl::StatusOr<json::Value> Verify(std::string_view token) const;
  const std::string& key_id() const { return key_id_; }

 private:
  std::shared_ptr<KeyHandle> key_;
  std::string key_id_;
};

}  // namespace berth::jwt
