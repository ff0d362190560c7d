#include "kubelet-like-agent/images/registry_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/images/digest.h"

namespace berth::agent::images {
namespace {

constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr size_t kMaxErrorBytes = 64 << 10;
// How much of a blob is written before its writeback is started.
constexpr int64_t kWritebackChunk = 1 << 20;
constexpr int kMaxRedirects = 5;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The distribution spec's error body: {"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}.
std::string RegistryErrorText(int status, const std::string& body) {
  std::string text = StrCat("HTTP ", status);
  auto doc = json::Parse(body);
  if (doc.ok()) {
    if (const json::Value* errors = doc->Find("errors"); errors && errors->is_array() && errors->size() > 0) {
      const json::Value& e = errors->as_array()[0];
      return text + StrCat(": ", e.GetString({"code"}), " ", e.GetString({"message"}));
    }
  }
  if (!body.empty()) text += ": " + body.substr(0, 200);
  return text;
}

absl::Status StatusForHttp(int status, const std::string& what, const std::string& body) {
  std::string message = StrCat(what, ": ", RegistryErrorText(status, body));
  if (status == 404) return absl::NotFoundError(message);
  if (status == 401) return absl::UnauthenticatedError(message);
  if (status == 403) return absl::PermissionDeniedError(message);
  if (status == 429 || status >= 500) return absl::UnavailableError(message);
  return absl::FailedPreconditionError(message);
}

std::string Origin(const std::string& url) {
  size_t scheme = url.find("://");
  size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

// Collects a body up to `limit` bytes (then stops reading).
client::HttpFetcher::BodySink Collect(std::string& into, size_t limit) {
  return [&into, limit](const client::FetchResponse&, std::string_view chunk) {
    into.append(chunk.substr(0, limit - std::min(limit, into.size())));
    return into.size() < limit;
  };
}

bool IsRedirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

// RFC 3986 unreserved characters stay, everything else is %XX (token request parameters).
std::string QueryEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

AuthChallenge ParseAuthChallenge(std::string_view header) {
  AuthChallenge c;
  size_t space = header.find(' ');
  c.scheme = Lower(std::string(header.substr(0, space)));
  if (space == std::string_view::npos) return c;
  std::string_view rest = header.substr(space + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) break;
    std::string key = Lower(std::string(rest.substr(0, eq)));
    rest.remove_prefix(eq + 1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      rest.remove_prefix(1);
      while (!rest.empty() && rest.front() != '"') {
        if (rest.front() == '\\' && rest.size() > 1) rest.remove_prefix(1);
        value.push_back(rest.front());
        rest.remove_prefix(1);
      }
      if (!rest.empty()) rest.remove_prefix(1);
    } else {
      size_t end = rest.find(',');
      value = std::string(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    if (key == "realm") c.realm = value;
    if (key == "service") c.service = value;
    if (key == "scope") c.scope = value;
  }
  return c;
}

RegistryClient::RegistryClient(client::HttpFetcher& http, RegistryEndpoint endpoint, std::string repository,
                               Credentials credentials)
    : http_(http), endpoint_(std::move(endpoint)), repository_(std::move(repository)), credentials_(std::move(credentials)) {}

RegistryClient::~RegistryClient() = default;

absl::StatusOr<client::FetchResponse> RegistryClient::Get(const RegistryEndpoint& endpoint, std::string url,
                                                          const std::string& accept, const std::string& authorization,
                                                          const client::HttpFetcher::BodySink& on_body) {
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    client::FetchRequest request;
    request.url = url;
    request.ca_file = endpoint.ca_file;
    request.skip_verify = endpoint.skip_verify;
    if (!accept.empty()) request.headers.emplace_back("Accept", accept);
    if (!authorization.empty() && Origin(url) == Origin(endpoint.base_url)) {
      request.headers.emplace_back("Authorization", authorization);
    }
    // A redirect's own body is not the caller's.
    auto r = http_.Get(request, [&](const client::FetchResponse& head, std::string_view chunk) {
      return IsRedirect(head.status) ? false : on_body(head, chunk);
    });
    if (!r.ok()) return r.status();
    if (!IsRedirect(r->status)) return r;
    std::string location = r->Header("Location");
    if (location.empty()) return absl::UnavailableError(StrCat("redirect from ", url, " without a Location"));
    url = location.find("://") == std::string::npos ? Origin(url) + location : location;
  }
  return absl::UnavailableError(StrCat("GET ", url, ": too many redirects"));
}

absl::StatusOr<client::FetchResponse> RegistryClient::Authorized(const std::string& url, const std::string& accept,
                                                                 const client::HttpFetcher::BodySink& on_body) {
  std::string current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current = authorization_;
  }
  // A 401's body is the challenge's, not the caller's.
  std::string challenge_body;
  auto first = Get(endpoint_, url, accept, current, [&](const client::FetchResponse& head, std::string_view chunk) {
    return head.status == 401 ? Collect(challenge_body, kMaxErrorBytes)(head, chunk) : on_body(head, chunk);
  });
  if (!first.ok() || first->status != 401) return first;
  AuthChallenge challenge = ParseAuthChallenge(first->Header("WWW-Authenticate"));
  std::string basic = credentials_.empty() ? std::string()
                                           : "Basic " + absl::Base64Escape(credentials_.username + ":" + credentials_.password);
  std::string next;
  if (challenge.scheme == "basic") {
    if (basic.empty()) return StatusForHttp(401, url, challenge_body);  // no credentials: the 401 is the answer
    next = basic;
  } else if (challenge.scheme == "bearer" && !challenge.realm.empty()) {
    std::string token_url = challenge.realm;
    std::string scope = challenge.scope.empty() ? StrCat("repository:", repository_, ":pull") : challenge.scope;
    token_url += token_url.find('?') == std::string::npos ? "?" : "&";
    token_url += "scope=" + QueryEscape(scope);
    if (!challenge.service.empty()) token_url += "&service=" + QueryEscape(challenge.service);
    RegistryEndpoint token_endpoint = endpoint_;
    token_endpoint.base_url = Origin(token_url);  // the credentials go to the realm the registry named
    std::string body;
    auto t = Get(token_endpoint, token_url, "application/json", basic, Collect(body, 1 << 20));
    if (!t.ok()) return t.status();
    if (t->status != 200) return StatusForHttp(t->status, StrCat("token from ", challenge.realm), body);
    auto doc = json::Parse(body);
    std::string token = doc.ok() ? doc->GetString({"token"}) : "";
    if (token.empty() && doc.ok()) token = doc->GetString({"access_token"});
    if (token.empty()) return absl::UnauthenticatedError(StrCat("the token endpoint ", challenge.realm, " returned no token"));
    next = "Bearer " + token;
  } else {
    return StatusForHttp(401, url, challenge_body);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    authorization_ = next;
  }
  return Get(endpoint_, url, accept, next, on_body);
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const std::string& tag_or_digest) {
  std::string url = StrCat(endpoint_.base_url, "/v2/", repository_, "/manifests/", tag_or_digest);
  std::string body;
  auto r = Authorized(url, ManifestAcceptHeader(), Collect(body, kMaxManifestBytes + 1));
  if (!r.ok()) return r.status();
  if (r->status != 200) return StatusForHttp(r->status, url, body);
  if (body.size() > kMaxManifestBytes) return absl::InvalidArgumentError(StrCat(url, ": manifest larger than 4 MiB"));
  FetchedManifest m;
  m.body = std::move(body);
  m.content_type = r->Header("Content-Type");
  m.digest = Sha256Of(m.body);
  if (IsSha256Digest(tag_or_digest)) {
    if (absl::Status s = CheckDigest(StrCat("manifest ", tag_or_digest), tag_or_digest, m.digest); !s.ok()) return s;
  }
  return m;
}

absl::Status RegistryClient::DownloadBlob(const Descriptor& blob, const std::string& dest_path) {
  std::string url = StrCat(endpoint_.base_url, "/v2/", repository_, "/blobs/", blob.digest);
  int fd = open(dest_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(StrCat("cannot write ", dest_path, ": ", std::strerror(errno)));
  Sha256 hash;
  int64_t total = 0, flushed = 0;
  absl::Status status = absl::OkStatus();
  std::string error_body;
  auto r = Authorized(url, "", [&](const client::FetchResponse& head, std::string_view chunk) {
    if (head.status != 200) return Collect(error_body, kMaxErrorBytes)(head, chunk);
    total += static_cast<int64_t>(chunk.size());
    if (blob.size >= 0 && total > blob.size) {
      status = absl::DataLossError(StrCat("blob ", blob.digest, " is larger than its descriptor's ", blob.size, " bytes"));
      return false;
    }
    hash.Update(chunk.data(), chunk.size());
    for (size_t off = 0; off < chunk.size();) {
      ssize_t w = write(fd, chunk.data() + off, chunk.size() - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        status = absl::UnavailableError(StrCat("writing ", dest_path, ": ", std::strerror(errno)));
        return false;
      }
      off += static_cast<size_t>(w);
    }
    // Start writing what arrived to the disk now, while the rest downloads: the syncfs before
    // the image record then waits for little (it does not block here).
    if (total - flushed >= kWritebackChunk) {
      sync_file_range(fd, flushed, total - flushed, SYNC_FILE_RANGE_WRITE);
      flushed = total;
    }
    return true;
  });
  if (!r.ok()) status = r.status();
  if (status.ok() && r->status != 200) status = StatusForHttp(r->status, StrCat("blob ", blob.digest), error_body);
  if (status.ok() && blob.size >= 0 && total != blob.size) {
    status = absl::DataLossError(StrCat("blob ", blob.digest, " ended after ", total, " of ", blob.size, " bytes"));
  }
  if (status.ok()) status = CheckDigest(StrCat("blob ", blob.digest), blob.digest, hash.Finish());
  // No fsync per blob: ImageStore::PutImage syncs the file system once before the image
  // record makes the blobs count, and an interrupted pull's blobs are discarded at the next open.
  close(fd);
  if (!status.ok()) unlink(dest_path.c_str());
  return status;
}

}  // namespace berth::agent::images
