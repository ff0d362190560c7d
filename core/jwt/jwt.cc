// RS256 with OpenSSL 3's EVP API; base64url from Abseil; JSON through core/json.

#include "core/jwt/jwt.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "absl/strings/escaping.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::jwt {

struct KeyHandle {
  EVP_PKEY* key = nullptr;
  ~KeyHandle() { EVP_PKEY_free(key); }
};

namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

absl::Status OpenSslError(std::string_view what) {
  unsigned long code = ERR_get_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return absl::InternalError(StrCat(what, ": ", text));
}

// Headers and claims are flat: anything nested deeper than this is not a token of ours.
constexpr int kMaxDepth = 8;
constexpr size_t kMaxTokenBytes = 64 * 1024;

std::string Base64Url(std::string_view raw) {
  std::string out;
  absl::WebSafeBase64Escape(Sv(raw), &out);
  return out;
}

absl::StatusOr<std::string> KeyId(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return OpenSslError("encoding the public key");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(n), digest);
  OPENSSL_free(der);
  return Base64Url(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

absl::StatusOr<std::shared_ptr<KeyHandle>> ReadKey(const std::string& pem, bool allow_public) {
  auto handle = std::make_shared<KeyHandle>();
  {
    Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    handle->key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  }
  if (handle->key == nullptr && allow_public) {
    ERR_clear_error();
    Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    handle->key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  }
  ERR_clear_error();
  if (handle->key == nullptr) {
    return absl::InvalidArgumentError(allow_public ? "not a PEM RSA key" : "not a PEM RSA private key");
  }
  if (EVP_PKEY_get_base_id(handle->key) != EVP_PKEY_RSA) return absl::InvalidArgumentError("the key is not an RSA key");
  return handle;
}

}  // namespace

absl::StatusOr<std::string> NewRsaKeyPem(int bits) {
  Owned<EVP_PKEY> key(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (!key) return OpenSslError("generating an RSA key");
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)) {
    return OpenSslError("writing the RSA key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool LooksLikeJwt(std::string_view token) {
  size_t first = token.find('.');
  if (first == std::string_view::npos) return false;
  size_t second = token.find('.', first + 1);
  return second != std::string_view::npos && token.find('.', second + 1) == std::string_view::npos;
}

absl::StatusOr<DecodedToken> Decode(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return absl::InvalidArgumentError("token too long");
  if (!LooksLikeJwt(token)) return absl::InvalidArgumentError("not a JWT: want three dot-separated parts");
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  std::string_view parts[3] = {token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
  std::string raw[3];
  for (int i = 0; i < 3; ++i) {
    // base64url without padding: '=' is not part of the alphabet JWTs use.
    if (parts[i].find('=') != std::string_view::npos || !absl::WebSafeBase64Unescape(Sv(parts[i]), &raw[i])) {
      return absl::InvalidArgumentError(StrCat("not a JWT: part ", i + 1, " is not base64url"));
    }
  }
  DecodedToken out;
  auto header = json::Parse(raw[0], kMaxDepth);
  if (!header.ok() || !header->is_object()) return absl::InvalidArgumentError("not a JWT: the header is not a JSON object");
  auto claims = json::Parse(raw[1], kMaxDepth);
  if (!claims.ok() || !claims->is_object()) return absl::InvalidArgumentError("not a JWT: the claims are not a JSON object");
  out.header = *std::move(header);
  out.claims = *std::move(claims);
  out.signing_input = std::string(token.substr(0, second));
  out.signature = std::move(raw[2]);
  return out;
}

absl::StatusOr<Rs256Signer> Rs256Signer::FromPrivateKeyPem(const std::string& pem) {
  auto key = ReadKey(pem, false);
  if (!key.ok()) return key.status();
  Rs256Signer signer;
  signer.key_ = *std::move(key);
  auto kid = KeyId(signer.key_->key);
  if (!kid.ok()) return kid.status();
  signer.key_id_ = *std::move(kid);
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PUBKEY(bio.get(), signer.key_->key)) return OpenSslError("writing the public key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  signer.public_pem_.assign(data, static_cast<size_t>(n));
  return signer;
}

absl::StatusOr<std::string> Rs256Signer::Sign(const json::Value& claims) const {
  json::Value header = json::Value::MakeObject();
  header.Set("alg", "RS256");
  header.Set("kid", key_id_);
  std::string input = StrCat(Base64Url(json::Serialize(header)), ".", Base64Url(json::Serialize(claims)));
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return OpenSslError("signing a token");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return OpenSslError("signing a token");
  }
  signature.resize(length);
  return StrCat(input, ".", Base64Url(signature));
}

absl::StatusOr<Rs256Verifier> Rs256Verifier::FromPem(const std::string& pem) {
  auto key = ReadKey(pem, true);
  if (!key.ok()) return key.status();
  Rs256Verifier verifier;
  verifier.key_ = *std::move(key);
  auto kid = KeyId(verifier.key_->key);
  if (!kid.ok()) return kid.status();
  verifier.key_id_ = *std::move(kid);
  return verifier;
}

absl::StatusOr<json::Value> Rs256Verifier::Verify(std::string_view token) const {
  auto decoded = Decode(token);
  if (!decoded.ok()) return absl::UnauthenticatedError(decoded.status().message());
  const json::Value* alg = decoded->header.Find("alg");
  if (alg == nullptr || !alg->is_string() || alg->as_string() != "RS256") {
    return absl::UnauthenticatedError("unexpected signing algorithm: want RS256");
  }
  if (const json::Value* kid = decoded->header.Find("kid"); kid && (!kid->is_string() || kid->as_string() != key_id_)) {
    return absl::UnauthenticatedError("signed by an unknown key");
  }
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  const std::string& input = decoded->signing_input;
  const std::string& sig = decoded->signature;
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->key) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  ERR_clear_error();
  if (!ok) return absl::UnauthenticatedError("invalid signature");
  return std::move(decoded->claims);
}

}  // namespace berth::jwt
