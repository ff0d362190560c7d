#include "core/jwt/jwt.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "core/json/codec.h"

namespace berth::jwt {
namespace {

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new std::string(*NewRsaKeyPem(2048));
    other_key_ = new std::string(*NewRsaKeyPem(2048));
  }
  static void TearDownTestSuite() {
    delete key_;
    delete other_key_;
  }
  static json::Value Claims() {
    json::Value c = json::Value::MakeObject();
    c.Set("iss", "https://kubernetes.default.svc.cluster.local");
    c.Set("sub", "system:serviceaccount:demo:viewer");
    c.Set("exp", static_cast<int64_t>(1800000000));
    return c;
  }
  static std::string* key_;
  static std::string* other_key_;
};
std::string* JwtTest::key_ = nullptr;
std::string* JwtTest::other_key_ = nullptr;

std::string Part(const std::string& token, int i) {
  size_t a = token.find('.'), b = token.find('.', a + 1);
  std::string enc = i == 0 ? token.substr(0, a) : i == 1 ? token.substr(a + 1, b - a - 1) : token.substr(b + 1);
  std::string raw;
  absl::WebSafeBase64Unescape(enc, &raw);
  return raw;
}

TEST_F(JwtTest, SignedTokenVerifiesAndCarriesTheClaims) {
  auto signer = Rs256Signer::FromPrivateKeyPem(*key_);
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto token = signer->Sign(Claims());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_TRUE(LooksLikeJwt(*token));
  EXPECT_EQ(token->find('='), std::string::npos) << "base64url without padding";
  auto header = json::Parse(Part(*token, 0));
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->GetString({"alg"}), "RS256");
  EXPECT_EQ(header->GetString({"kid"}), signer->key_id());
  EXPECT_EQ(signer->key_id().size(), 43u) << "base64url of a SHA-256 digest";
  EXPECT_EQ(Part(*token, 2).size(), 256u) << "an RSA-2048 signature";

  auto verifier = Rs256Verifier::FromPem(signer->public_key_pem());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_EQ(verifier->key_id(), signer->key_id());
  auto claims = verifier->Verify(*token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->GetString({"sub"}), "system:serviceaccount:demo:viewer");
  EXPECT_EQ(claims->GetInt({"exp"}), 1800000000);
  // A private key PEM verifies too (its public half).
  EXPECT_TRUE(Rs256Verifier::FromPem(*key_)->Verify(*token).ok());
}

TEST_F(JwtTest, TamperedOrForeignTokensAreRefused) {
  auto signer = Rs256Signer::FromPrivateKeyPem(*key_);
  auto token = *signer->Sign(Claims());
  auto verifier = *Rs256Verifier::FromPem(signer->public_key_pem());

  // Claims changed after signing.
  json::Value forged = Claims();
  forged.Set("sub", "system:serviceaccount:kube-system:admin");
  std::string enc;
  absl::WebSafeBase64Escape(json::Serialize(forged), &enc);
  size_t a = token.find('.'), b = token.find('.', a + 1);
  std::string tampered = token.substr(0, a + 1) + enc + token.substr(b);
  EXPECT_EQ(verifier.Verify(tampered).status().message(), "invalid signature");

  // Signed by another key: its kid is not ours.
  auto other = *Rs256Signer::FromPrivateKeyPem(*other_key_);
  EXPECT_EQ(verifier.Verify(*other.Sign(Claims())).status().message(), "signed by an unknown key");

  // alg none (the classic JWT attack) and HS256.
  for (const char* alg : {"none", "HS256"}) {
    json::Value header = json::Value::MakeObject();
    header.Set("alg", alg);
    std::string h;
    absl::WebSafeBase64Escape(json::Serialize(header), &h);
    std::string forged_token = h + token.substr(a);
    auto r = verifier.Verify(forged_token);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(r.status().message(), "unexpected signing algorithm: want RS256");
  }
  for (const char* bad : {"", "abc", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.", "W10.e30.AA"}) {
    EXPECT_EQ(verifier.Verify(bad).status().code(), absl::StatusCode::kUnauthenticated) << bad;
  }
}

TEST_F(JwtTest, DecodeRefusesWhatIsNotAJwtWithTheReason) {
  EXPECT_FALSE(LooksLikeJwt("opaque-static-token"));
  EXPECT_TRUE(LooksLikeJwt("a.b.c"));
  EXPECT_EQ(Decode("a.b").status().message(), "not a JWT: want three dot-separated parts");
  EXPECT_EQ(Decode("e30=.e30.AA").status().message(), "not a JWT: part 1 is not base64url");
  EXPECT_EQ(Decode("W10.e30.AA").status().message(), "not a JWT: the header is not a JSON object");
  EXPECT_EQ(Decode("e30.bnVsbA.AA").status().message(), "not a JWT: the claims are not a JSON object");
  EXPECT_EQ(Decode(std::string(70000, 'a')).status().message(), "token too long");
  EXPECT_TRUE(Decode("e30.e30.AA").ok());
}

TEST_F(JwtTest, KeysThatAreNotRsaAreRefused) {
  EXPECT_FALSE(Rs256Signer::FromPrivateKeyPem("not a key").ok());
  EXPECT_FALSE(Rs256Verifier::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").ok());
}

}  // namespace
}  // namespace berth::jwt
