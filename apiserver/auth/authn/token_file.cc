#include "apiserver/auth/authn/token_file.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include "core/strings/strings.h"

namespace berth::apiserver::auth::authn {
namespace {

// Every request with a bearer token is hashed here. OpenSSL 3's one-shot SHA256() looks the
// algorithm up in the provider store each time (a read lock shared by every thread, measured as
// a visible share of a secure GET); fetched once, the digest is lock-free.
std::string Digest(std::string_view token) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char out[SHA256_DIGEST_LENGTH];
  unsigned int length = 0;
  if (sha256 == nullptr || EVP_Digest(token.data(), token.size(), out, &length, sha256, nullptr) != 1 ||
      length != sizeof(out)) {
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out);
  }
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

}  // namespace

std::vector<std::string> SplitCsvLine(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back().push_back(c);
    }
  }
  return fields;
}

absl::StatusOr<TokenFile> TokenFile::Parse(std::string_view csv) {
  TokenFile file;
  int number = 0;
  for (std::string_view line : Split(csv, '\n')) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Strip(line).empty()) continue;
    std::vector<std::string> f = SplitCsvLine(line);
    if (f.size() < 3) {
      return absl::InvalidArgumentError(StrCat("token file line ", number,
                                                     ": must have at least 3 columns (token, user name, unique user ID), found ",
                                                     f.size()));
    }
    if (f[0].empty() || f[1].empty()) {
      return absl::InvalidArgumentError(StrCat("token file line ", number, ": the token and the user name may not be empty"));
    }
    UserInfo user;
    user.name = f[1];
    user.uid = f[2];
    if (f.size() >= 4) {
      for (std::string_view g : Split(f[3], ',')) {
        if (!Strip(g).empty()) user.groups.emplace_back(Strip(g));
      }
    }
    file.users_[Digest(f[0])] = std::move(user);
  }
  return file;
}

absl::StatusOr<TokenFile> TokenFile::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat("cannot read the token file ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto parsed = Parse(buffer.str());
  if (!parsed.ok()) return absl::InvalidArgumentError(StrCat(path, ": ", parsed.status().message()));
  return parsed;
}

std::optional<UserInfo> TokenFile::Lookup(std::string_view token) const {
  auto it = users_.find(Digest(token));
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

}  // namespace berth::apiserver::auth::authn
