#pragma once
// File: apiserver/auth/authn/token_file.h
// Kubernetes' static token file (--token-auth-file): CSV lines `token,user,uid[,"group1,group2"]`.
// Tokens are kept only as SHA-256 digests, so a memory dump does not hand them out.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "apiserver/auth/user_info.h"

namespace berth::apiserver::auth::authn {

class TokenFile {
 public:
  // InvalidArgument naming the line for a record with fewer than three columns or an empty
  // token or user; blank lines are skipped. A repeated token: the last line wins, as upstream.
  static absl::StatusOr<TokenFile> Parse(std::string_view csv);
  static absl::StatusOr<TokenFile> Load(const std::string& path);

  std::optional<UserInfo> Lookup(std::string_view token) const;
  size_t size() const { return users_.size(); }

 private:
  std::map<std::string, UserInfo> users_;  // by SHA-256 of the token
};

// RFC 4180 fields of one line: commas separate, double quotes enclose (a doubled quote is one).
std::vector<std::string> SplitCsvLine(std::string_view line);

}  // namespace berth::apiserver::auth::authn
