// libFuzzer target: the documents an operator or a client hands the security code — a
// kubeconfig, an audit Policy (YAML), PEM certificates and keys, and bearer tokens that look like
// JWTs (a ServiceAccount token is decoded and verified before anything else is known of it). None of them may crash a
// component; a failure is an error Status of the expected kinds; a parsed policy's rules all
// have a level; certificates and keys are read without crashing whatever their bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "apiserver/audit/audit_policy.h"
#include "core/client/connection.h"
#include "core/jwt/jwt.h"
#include "core/pki/certificates.h"
#include "core/yaml/yaml_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  // Relative file references resolve under a directory that does not exist: no file is read.
  auto connection = berth::client::ParseKubeconfig(input, "fuzz.kubeconfig", "/nonexistent-berth-fuzz");
  if (!connection.ok()) {
    // Malformed, a missing referenced file, or a credential kind Berth refuses by name.
    const absl::StatusCode code = connection.status().code();
    if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kNotFound &&
        code != absl::StatusCode::kUnimplemented) {
      std::fprintf(stderr, "kubeconfig: unexpected %s\n", connection.status().ToString().c_str());
      std::abort();
    }
  }

  if (auto doc = berth::yaml::ParseSingle(input); doc.ok()) {
    auto policy = berth::apiserver::audit::ParsePolicy(*doc);
    if (policy.ok()) {
      for (const auto& rule : policy->rules) {
        if (rule.level < berth::apiserver::audit::Level::kNone || rule.level > berth::apiserver::audit::Level::kRequestResponse) {
          std::abort();
        }
      }
    } else if (policy.status().code() != absl::StatusCode::kInvalidArgument) {
      std::fprintf(stderr, "audit policy: unexpected %s\n", policy.status().ToString().c_str());
      std::abort();
    }
  }

  auto decoded = berth::jwt::Decode(input);
  if (!decoded.ok() && decoded.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
  if (decoded.ok() && (!decoded->header.is_object() || !decoded->claims.is_object())) std::abort();
  static const berth::jwt::Rs256Verifier* verifier = [] {
    auto key = berth::jwt::NewRsaKeyPem(2048);
    return new berth::jwt::Rs256Verifier(*berth::jwt::Rs256Verifier::FromPem(*key));
  }();
  // Nothing but a token signed with the key verifies: anything else is Unauthenticated.
  if (verifier->Verify(input).status().code() != absl::StatusCode::kUnauthenticated) std::abort();
  (void)berth::jwt::Rs256Verifier::FromPem(input);

  // A mangled certificate may still parse (with any dates): only reading it must be safe.
  (void)berth::pki::Inspect(input);
  (void)berth::pki::KeyMatches(input, input);
  (void)berth::pki::SignedBy(input, input);
  return 0;
}
