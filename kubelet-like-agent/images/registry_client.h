#pragma once
// File: kubelet-like-agent/images/registry_client.h
// One repository of one registry endpoint, over the OCI distribution API: manifests by tag or
// digest, blobs streamed to a file while their sha256 is computed. Authentication follows the
// registry's challenge: `WWW-Authenticate: Bearer realm,service,scope` fetches a token (with
// basic credentials when there are any), `Basic` sends the credentials. Redirects (blob
// storage elsewhere) are followed without the Authorization header. The only translation
// HTTP goes through the client::HttpFetcher seam (cpprestsdk in production, a fake in tests).

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/client/http_fetch.h"
#include "kubelet-like-agent/images/oci_manifest.h"
#include "kubelet-like-agent/images/registry_config.h"

namespace berth::agent::images {

struct FetchedManifest {
  std::string body;
  std::string content_type;
  std::string digest;  // sha256 of the body
};

class RegistryClient {
 public:
  // `http` must outlive the client.
  RegistryClient(client::HttpFetcher& http, RegistryEndpoint endpoint, std::string repository, Credentials credentials);
  ~RegistryClient();

  // Status codes: NotFound (the registry does not have it), Unauthenticated / PermissionDenied
  // (the registry's answer), Unavailable (unreachable, 5xx), DataLoss (a digest mismatch).
  // Messages carry the registry's own error text.
  absl::StatusOr<FetchedManifest> GetManifest(const std::string& tag_or_digest);
  // Streams the blob to `dest_path`, refusing it (and removing the file) when its size or
  // sha256 differ from the descriptor's.
  absl::Status DownloadBlob(const Descriptor& blob, const std::string& dest_path);

  const RegistryEndpoint& endpoint() const { return endpoint_; }

 private:
  // GET `url` following redirects; `authorization` only to the endpoint's own origin.
  absl::StatusOr<client::FetchResponse> Get(const RegistryEndpoint& endpoint, std::string url, const std::string& accept,
                                            const std::string& authorization, const client::HttpFetcher::BodySink& on_body);
  // Get, answering the registry's authentication challenge once. `on_body` sees only the
  // body of the final response.
  absl::StatusOr<client::FetchResponse> Authorized(const std::string& url, const std::string& accept,
                                                   const client::HttpFetcher::BodySink& on_body);

  client::HttpFetcher& http_;
  RegistryEndpoint endpoint_;
  std::string repository_;
  Credentials credentials_;
  std::mutex mu_;
  std::string authorization_;  // the header value that worked, reused for the next requests
};

// "Bearer realm=\"...\",service=\"...\"" -> its scheme and parameters (exposed for tests).
struct AuthChallenge {
  std::string scheme;  // lowercase: "bearer", "basic"
  std::string realm, service, scope;
};
AuthChallenge ParseAuthChallenge(std::string_view header);

}  // namespace berth::agent::images
