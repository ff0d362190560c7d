// AES with OpenSSL 3's EVP API, as kube-apiserver's aes transformers (k8s.io/apiserver/pkg/
// storage/value/encrypt/aes) lay the bytes out.

#include "apiserver/storage/encryption/transformer.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "core/strings/strings.h"

namespace berth::apiserver::storage::encryption {
namespace {

constexpr size_t kGcmNonce = 12, kGcmTag = 16, kCbcIv = 16;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const EVP_CIPHER* GcmCipher(size_t key_bytes) {
  return key_bytes == 16 ? EVP_aes_128_gcm() : key_bytes == 24 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
}

std::string Prefix(const Provider& p, const EncryptionKey& k) {
  return StrCat("k8s:enc:", p.type == Provider::Type::kAesGcm ? "aesgcm" : "aescbc", ":v1:", k.name, ":");
}

const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

absl::StatusOr<std::string> Seal(const Provider& p, const EncryptionKey& k, std::string_view aad, std::string_view plain) {
  const bool gcm = p.type == Provider::Type::kAesGcm;
  const size_t iv_len = gcm ? kGcmNonce : kCbcIv;
  std::string out(iv_len + plain.size() + (gcm ? kGcmTag : kCbcIv), '\0');
  if (RAND_bytes(U(out), static_cast<int>(iv_len)) != 1) return absl::InternalError("no random bytes for a nonce");
  Ctx ctx(EVP_CIPHER_CTX_new());
  const EVP_CIPHER* cipher = gcm ? GcmCipher(k.secret.size()) : EVP_aes_256_cbc();
  int n = 0, total = static_cast<int>(iv_len);
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) == 1;
  if (ok && gcm) ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv_len), nullptr) == 1;
  ok = ok && EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U(k.secret), U(out)) == 1;
  if (ok && gcm && !aad.empty()) ok = EVP_EncryptUpdate(ctx.get(), nullptr, &n, U(aad), static_cast<int>(aad.size())) == 1;
  ok = ok && EVP_EncryptUpdate(ctx.get(), U(out) + total, &n, U(plain), static_cast<int>(plain.size())) == 1;
  total += n;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), U(out) + total, &n) == 1;
  total += n;
  if (ok && gcm) {
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTag), U(out) + total) == 1;
    total += static_cast<int>(kGcmTag);
  }
  ERR_clear_error();
  if (!ok) return absl::InternalError("encrypting failed");
  out.resize(static_cast<size_t>(total));
  return StrCat(Prefix(p, k), out);
}

absl::StatusOr<std::string> Open(const Provider& p, const EncryptionKey& k, std::string_view aad, std::string_view data) {
  const bool gcm = p.type == Provider::Type::kAesGcm;
  const size_t iv_len = gcm ? kGcmNonce : kCbcIv;
  if (data.size() < iv_len + (gcm ? kGcmTag : kCbcIv)) return absl::DataLossError("the stored value is too short");
  std::string_view iv = data.substr(0, iv_len);
  std::string_view body = data.substr(iv_len, data.size() - iv_len - (gcm ? kGcmTag : 0));
  std::string out(body.size() + kCbcIv, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  const EVP_CIPHER* cipher = gcm ? GcmCipher(k.secret.size()) : EVP_aes_256_cbc();
  int n = 0, total = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) == 1;
  if (ok && gcm) ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv_len), nullptr) == 1;
  ok = ok && EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U(k.secret), U(iv)) == 1;
  if (ok && gcm && !aad.empty()) ok = EVP_DecryptUpdate(ctx.get(), nullptr, &n, U(aad), static_cast<int>(aad.size())) == 1;
  ok = ok && EVP_DecryptUpdate(ctx.get(), U(out), &n, U(body), static_cast<int>(body.size())) == 1;
  total = n;
  if (ok && gcm) {
    std::string tag(data.substr(data.size() - kGcmTag));
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTag), U(tag)) == 1;
  }
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), U(out) + total, &n) == 1;
  total += n;
  ERR_clear_error();
  if (!ok) return absl::DataLossError(StrCat("the value under ", aad, " does not decrypt with key ", k.name));
  out.resize(static_cast<size_t>(total));
  return out;
}

}  // namespace

absl::StatusOr<std::string> Transformer::Encrypt(std::string_view storage_key, std::string_view plaintext) const {
  if (providers_.empty() || providers_[0].type == Provider::Type::kIdentity) return std::string(plaintext);
  return Seal(providers_[0], providers_[0].keys[0], storage_key, plaintext);
}

absl::StatusOr<Decrypted> Transformer::Decrypt(std::string_view storage_key, std::string_view stored) const {
  bool first = true;
  bool identity = false;
  for (const Provider& p : providers_) {
    if (p.type == Provider::Type::kIdentity) {
      identity = true;
      continue;
    }
    for (const EncryptionKey& k : p.keys) {
      std::string prefix = Prefix(p, k);
      if (stored.substr(0, prefix.size()) == prefix) {
        auto plain = Open(p, k, p.type == Provider::Type::kAesGcm ? storage_key : std::string_view(),
                          stored.substr(prefix.size()));
        if (!plain.ok()) return plain.status();
        return Decrypted{*std::move(plain), !first};
      }
      first = false;
    }
    first = false;
  }
  // Plaintext: readable only while identity is listed (written before encryption was on).
  if (stored.substr(0, 8) == "k8s:enc:") {
    return absl::DataLossError(StrCat("the value under ", storage_key, " was encrypted with a key the "
                                      "--encryption-provider-config no longer lists (no matching prefix found)"));
  }
  if (!identity) {
    return absl::DataLossError(StrCat("the value under ", storage_key, " is not encrypted and the "
                                      "--encryption-provider-config lists no identity provider"));
  }
  return Decrypted{std::string(stored), providers_[0].type != Provider::Type::kIdentity};
}

bool Transformer::IsCurrent(std::string_view stored) const {
  if (providers_.empty() || providers_[0].type == Provider::Type::kIdentity) return stored.substr(0, 8) != "k8s:enc:";
  std::string prefix = Prefix(providers_[0], providers_[0].keys[0]);
  return stored.substr(0, prefix.size()) == prefix;
}

}  // namespace berth::apiserver::storage::encryption
