// Bootstrap tokens against a fake Secret getter and a fake clock: upstream's rules for what a
// token Secret must say, and the user it authenticates as.
#include "apiserver/auth/authn/bootstrap_token.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/escaping.h"
#include "core/json/codec.h"
#include "testing/fake_clock.h"

namespace berth::apiserver::auth::authn {
namespace {

class BootstrapTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Put({{"token-id", "abcdef"}, {"token-secret", "0123456789abcdef"}, {"usage-bootstrap-authentication", "true"},
         {"expiration", "2026-01-02T00:00:00Z"}, {"auth-extra-groups", "system:bootstrappers:berth:nodes"}});
  }
  void Put(const std::map<std::string, std::string>& data, const std::string& type = kBootstrapTokenSecretType) {
    json::Value s = json::Value::MakeObject();
    s.Set("type", type);
    json::Value& d = s.Ensure({"data"});
    for (const auto& [k, v] : data) d.Set(k, absl::Base64Escape(v));
    secrets_["bootstrap-token-abcdef"] = std::move(s);
  }
  std::optional<absl::StatusOr<UserInfo>> Auth(const std::string& token) {
    BootstrapTokens tokens([this](const std::string& name) -> std::optional<json::Value> {
      auto it = secrets_.find(name);
      if (it == secrets_.end()) return std::nullopt;
      return it->second;
    }, clock_);
    return tokens.Authenticate(token);
  }
  testing::FakeClock clock_;  // 2026-01-01
  std::map<std::string, json::Value> secrets_;
};

TEST_F(BootstrapTokenTest, AValidTokenIsItsBootstrapUser) {
  auto r = Auth("abcdef.0123456789abcdef");
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->ok()) << r->status().message();
  EXPECT_EQ((*r)->name, "system:bootstrap:abcdef");
  EXPECT_EQ((*r)->groups, (std::vector<std::string>{"system:bootstrappers", "system:bootstrappers:berth:nodes"}));
}

TEST_F(BootstrapTokenTest, OtherShapesAreLeftToOtherAuthenticators) {
  for (const char* t : {"abcdef0123456789abcdef", "ABCDEF.0123456789abcdef", "abcdef.0123456789abcde", "a.b.c"}) {
    EXPECT_FALSE(Auth(t).has_value()) << t;
  }
}

TEST_F(BootstrapTokenTest, WrongExpiredUnusableOrDeletedTokensAreRefused) {
  EXPECT_EQ(Auth("abcdef.0123456789abcdee")->status().message(), "bootstrap token: the token secret does not match");
  EXPECT_EQ(Auth("zzzzzz.0123456789abcdef")->status().message(), "bootstrap token: no such token");
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(Auth("abcdef.0123456789abcdef")->status().message(), "bootstrap token: the token has expired");
  Put({{"token-id", "abcdef"}, {"token-secret", "0123456789abcdef"}});
  EXPECT_EQ(Auth("abcdef.0123456789abcdef")->status().message(), "bootstrap token: the token is not for authentication");
  Put({{"token-id", "abcdef"}, {"token-secret", "0123456789abcdef"}, {"usage-bootstrap-authentication", "true"}},
      "Opaque");
  EXPECT_EQ(Auth("abcdef.0123456789abcdef")->status().message(), "bootstrap token: the secret is not a bootstrap token");
  Put({{"token-id", "abcdef"}, {"token-secret", "0123456789abcdef"}, {"usage-bootstrap-authentication", "true"},
       {"auth-extra-groups", "system:masters"}});
  EXPECT_EQ(Auth("abcdef.0123456789abcdef")->status().message(),
            "bootstrap token: auth-extra-groups: invalid group \"system:masters\"");
  Put({{"token-id", "abcdef"}, {"token-secret", "0123456789abcdef"}, {"usage-bootstrap-authentication", "true"}});
  secrets_["bootstrap-token-abcdef"].Ensure({"metadata"}).Set("deletionTimestamp", "2026-01-01T00:00:00Z");
  EXPECT_EQ(Auth("abcdef.0123456789abcdef")->status().message(), "bootstrap token: the token is being deleted");
}

}  // namespace
}  // namespace berth::apiserver::auth::authn
