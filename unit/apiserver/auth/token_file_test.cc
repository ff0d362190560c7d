#include "apiserver/auth/authn/token_file.h"

#include <gtest/gtest.h>

#include "apiserver/auth/authn/authenticator.h"

namespace berth::apiserver::auth::authn {
namespace {

TEST(TokenFile, ParsesKubernetesCsvWithQuotedGroups) {
  auto f = TokenFile::Parse("31ada4fd-adec-460c-809a-9e56ceb75269,admin,1,\"system:masters,ops\"\n"
                            "\n"
                            "t2,jane,2\r\n");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->size(), 2u);
  auto admin = f->Lookup("31ada4fd-adec-460c-809a-9e56ceb75269");
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(admin->name, "admin");
  EXPECT_EQ(admin->uid, "1");
  EXPECT_EQ(admin->groups, (std::vector<std::string>{"system:masters", "ops"}));
  auto jane = f->Lookup("t2");
  ASSERT_TRUE(jane.has_value());
  EXPECT_TRUE(jane->groups.empty());
  EXPECT_FALSE(f->Lookup("t3").has_value());
  EXPECT_FALSE(f->Lookup("").has_value());
}

TEST(TokenFile, RefusesShortRecordsNamingTheLine) {
  auto f = TokenFile::Parse("a,b,c\nonly,two\n");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), "token file line 2: must have at least 3 columns (token, user name, unique user ID), found 2");
  EXPECT_FALSE(TokenFile::Parse(",user,1\n").ok());
}

TEST(SplitCsvLine, HandlesDoubledQuotes) {
  EXPECT_EQ(SplitCsvLine("a,\"b \"\"c\"\"\",d"), (std::vector<std::string>{"a", "b \"c\"", "d"}));
  EXPECT_EQ(SplitCsvLine(""), (std::vector<std::string>{""}));
}

http::Request WithHeader(const std::string& value) {
  http::Request r;
  r.headers["authorization"] = value;
  return r;
}

TEST(Authenticator, CertificatesThenTokensElseAnonymous) {
  auto f = TokenFile::Parse("secret,jane,7,dev\n");
  ASSERT_TRUE(f.ok());
  Authenticator authn(std::make_shared<const TokenFile>(*std::move(f)));

  http::Request cert;
  cert.peer = http::PeerIdentity{"system:admin", {"system:masters"}};
  auto admin = authn.Authenticate(cert);
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->name, "system:admin");
  EXPECT_EQ(admin->groups, (std::vector<std::string>{"system:masters", "system:authenticated"}));

  // The Python client sends the scheme in lower case.
  for (const char* header : {"Bearer secret", "bearer secret", "BEARER  secret "}) {
    auto jane = authn.Authenticate(WithHeader(header));
    ASSERT_TRUE(jane.ok()) << header;
    EXPECT_EQ(jane->name, "jane");
    EXPECT_EQ(jane->groups, (std::vector<std::string>{"dev", "system:authenticated"}));
  }
  for (const char* header : {"Bearer wrong", "Basic amFuZTpzZWNyZXQ=", "Bearer"}) {
    auto bad = authn.Authenticate(WithHeader(header));
    ASSERT_FALSE(bad.ok()) << header;
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnauthenticated);
  }
  auto anonymous = authn.Authenticate(http::Request{});
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->name, "system:anonymous");
  EXPECT_EQ(anonymous->groups, std::vector<std::string>{"system:unauthenticated"});
}

TEST(Authenticator, AnonymousOnlyForHealthAndVersion) {
  auto at = [](std::vector<std::string> segments) {
    http::Request r;
    r.segments = std::move(segments);
    return Authenticator::AnonymousAllowed(r);
  };
  EXPECT_TRUE(at({"livez"}));
  EXPECT_TRUE(at({"readyz", "ping"}));
  EXPECT_TRUE(at({"healthz"}));
  EXPECT_TRUE(at({"version"}));
  EXPECT_FALSE(at({"api"}));
  EXPECT_FALSE(at({"metrics"}));
  EXPECT_FALSE(at({"api", "v1", "pods"}));
  EXPECT_FALSE(at({}));
}

}  // namespace
}  // namespace berth::apiserver::auth::authn
