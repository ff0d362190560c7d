// Bound ServiceAccount tokens against a fake store and a fake clock: the claims kube-apiserver
// writes, the user they authenticate as, and every way a token stops being valid.
#include "apiserver/auth/serviceaccount/token_authority.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/escaping.h"
#include "core/json/codec.h"
#include "testing/fake_clock.h"

namespace berth::apiserver::auth::serviceaccount {
namespace {

class FakeLookup final : public ObjectLookup {
 public:
  std::optional<StoredObject> Find(const std::string& kind, const std::string& ns, const std::string& name) const override {
    auto it = objects.find(kind + "/" + ns + "/" + name);
    if (it == objects.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, StoredObject> objects;
};

class TokenAuthorityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { key_ = new std::string(*jwt::NewRsaKeyPem(2048)); }
  static void TearDownTestSuite() { delete key_; }

  void SetUp() override {
    lookup_ = std::make_shared<FakeLookup>();
    lookup_->objects["ServiceAccount/demo/viewer"] = {"sa-uid", std::nullopt, ""};
    lookup_->objects["Pod/demo/web"] = {"pod-uid", std::nullopt, "n1"};
    auto signer = *jwt::Rs256Signer::FromPrivateKeyPem(*key_);
    std::vector<jwt::Rs256Verifier> verifiers{*jwt::Rs256Verifier::FromPem(signer.public_key_pem())};
    authority_ = std::make_unique<TokenAuthority>(signer, verifiers, TokenAuthorityOptions{}, clock_, lookup_);
  }

  TokenSpec PodBound() {
    TokenSpec spec;
    spec.ns = "demo";
    spec.service_account = "viewer";
    spec.service_account_uid = "sa-uid";
    spec.expiration = absl::Seconds(3607);
    spec.bound = BoundObject{"Pod", "web", "pod-uid"};
    spec.node_name = "n1";
    spec.node_uid = "node-uid";
    return spec;
  }

  static json::Value Claims(const std::string& token) {
    size_t a = token.find('.'), b = token.find('.', a + 1);
    std::string raw;
    absl::WebSafeBase64Unescape(token.substr(a + 1, b - a - 1), &raw);
    return *json::Parse(raw);
  }

  static std::string* key_;
  testing::FakeClock clock_;
  std::shared_ptr<FakeLookup> lookup_;
  std::unique_ptr<TokenAuthority> authority_;
};
std::string* TokenAuthorityTest::key_ = nullptr;

TEST_F(TokenAuthorityTest, IssuesKubernetesClaimsAndAuthenticatesAsTheServiceAccount) {
  auto issued = authority_->Issue(PodBound());
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(issued->expires, clock_.Now() + absl::Seconds(3607));
  json::Value c = Claims(issued->token);
  EXPECT_EQ(c.GetString({"iss"}), kDefaultIssuer);
  EXPECT_EQ(json::Serialize(*c.Find("aud")), R"(["https://kubernetes.default.svc.cluster.local"])");
  EXPECT_EQ(c.GetString({"sub"}), "system:serviceaccount:demo:viewer");
  EXPECT_EQ(c.GetInt({"exp"}) - c.GetInt({"iat"}), 3607);
  EXPECT_EQ(c.GetInt({"nbf"}), c.GetInt({"iat"}));
  EXPECT_EQ(c.GetString({"jti"}).size(), 36u);
  EXPECT_EQ(json::Serialize(*c.Find("kubernetes.io")),
            R"({"namespace":"demo","node":{"name":"n1","uid":"node-uid"},"pod":{"name":"web","uid":"pod-uid"},)"
            R"("serviceaccount":{"name":"viewer","uid":"sa-uid"}})");

  auto who = authority_->Authenticate(issued->token, {});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->user.name, "system:serviceaccount:demo:viewer");
  EXPECT_EQ(who->user.uid, "sa-uid");
  EXPECT_EQ(who->user.groups, (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:demo"}));
  EXPECT_EQ(who->user.extra["authentication.kubernetes.io/pod-name"], std::vector<std::string>{"web"});
  EXPECT_EQ(who->user.extra["authentication.kubernetes.io/node-name"], std::vector<std::string>{"n1"});
  EXPECT_EQ(who->user.extra["authentication.kubernetes.io/credential-id"],
            std::vector<std::string>{"JTI=" + c.GetString({"jti"})});
  EXPECT_EQ(who->audiences, std::vector<std::string>{kDefaultIssuer});
}

TEST_F(TokenAuthorityTest, AudiencesMustMeet) {
  TokenSpec spec = PodBound();
  spec.audiences = {"vault", "sts"};
  std::string token = authority_->Issue(spec)->token;
  EXPECT_EQ(authority_->Authenticate(token, {}).status().message(),
            "token audiences [\"vault\" \"sts\"] is invalid for the target audiences "
            "[\"https://kubernetes.default.svc.cluster.local\"]");
  auto ok = authority_->Authenticate(token, {"sts", "other"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->audiences, std::vector<std::string>{"sts"});
}

TEST_F(TokenAuthorityTest, ExpiresWithALeewayOfAMinute) {
  std::string token = authority_->Issue(PodBound())->token;
  clock_.Advance(absl::Seconds(3607 + 60));
  EXPECT_TRUE(authority_->Authenticate(token, {}).ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(authority_->Authenticate(token, {}).status().message(), "service account token has expired");
}

TEST_F(TokenAuthorityTest, EndsWithItsPodOrServiceAccount) {
  std::string token = authority_->Issue(PodBound())->token;
  // Being deleted: valid through the grace period (and the leeway), then not.
  lookup_->objects["Pod/demo/web"].deletion = clock_.Now() + absl::Seconds(30);
  EXPECT_TRUE(authority_->Authenticate(token, {}).ok());
  clock_.Advance(absl::Seconds(91));
  EXPECT_EQ(authority_->Authenticate(token, {}).status().message(), "token has been invalidated");
  lookup_->objects["Pod/demo/web"] = {"new-pod-uid", std::nullopt, "n1"};
  EXPECT_EQ(authority_->Authenticate(token, {}).status().message(), "pod UID (new-pod-uid) does not match claim (pod-uid)");
  lookup_->objects.erase("Pod/demo/web");
  EXPECT_EQ(authority_->Authenticate(token, {}).status().message(), "pod demo/web has been deleted");
  lookup_->objects.erase("ServiceAccount/demo/viewer");
  EXPECT_EQ(authority_->Authenticate(token, {}).status().message(), "service account demo/viewer has been deleted");
}

TEST_F(TokenAuthorityTest, TokensOfOtherIssuersOrKeysAreNotOurs) {
  auto other_key = *jwt::NewRsaKeyPem(2048);
  auto other_signer = *jwt::Rs256Signer::FromPrivateKeyPem(other_key);
  TokenAuthority other(other_signer, {*jwt::Rs256Verifier::FromPem(other_key)}, TokenAuthorityOptions{}, clock_, lookup_);
  EXPECT_EQ(authority_->Authenticate(other.Issue(PodBound())->token, {}).status().message(), "signed by an unknown key");
  TokenAuthorityOptions elsewhere;
  elsewhere.issuer = "https://issuer.example.com";
  elsewhere.api_audiences = {kDefaultIssuer};
  auto signer = *jwt::Rs256Signer::FromPrivateKeyPem(*key_);
  TokenAuthority foreign(signer, {*jwt::Rs256Verifier::FromPem(*key_)}, elsewhere, clock_, lookup_);
  EXPECT_EQ(authority_->Authenticate(foreign.Issue(PodBound())->token, {}).status().message(),
            "invalid bearer token: unknown issuer");
  // Key rotation: a verifier for the old key keeps its tokens valid.
  TokenAuthority rotated(other_signer, {*jwt::Rs256Verifier::FromPem(other_key), *jwt::Rs256Verifier::FromPem(*key_)},
                         TokenAuthorityOptions{}, clock_, lookup_);
  EXPECT_TRUE(rotated.Authenticate(authority_->Issue(PodBound())->token, {}).ok());
}

}  // namespace
}  // namespace berth::apiserver::auth::serviceaccount
