#pragma once
// File: core/client/api_client.h
// A Kubernetes API client for any kind, typed by resource path rather than by C++ type: objects
// are json::Values. Errors come back as the absl::Status the server's Status object maps to
// (core/api/errors.h), so callers test codes: kNotFound, kAlreadyExists, kAborted (conflict),
// kOutOfRange (410 Expired). Requests that fail with 429, 5xx or no connection are retried
// with exponential backoff.
//
// Thread-safe; calls block the calling thread.

#include <atomic>
#include <functional>
#include <memory>
#include <vector>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/client/connection.h"
#include "core/client/transport.h"
#include "core/json/value.h"
#include "core/time/clock.h"

namespace berth::client {

struct Resource {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  bool namespaced = true;
  std::string kind;
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
};

// The built-in kinds controllers use.
namespace resources {
extern const Resource kNamespaces, kPods, kNodes, kEvents, kLeases, kDeployments, kReplicaSets,
    kDaemonSets, kJobs, kCronJobs, kConfigMaps, kSecrets, kServiceAccounts, kPodDisruptionBudgets, kPriorityClasses, kResourceQuotas, kQueues,
    kServices, kEndpointSlices, kNetworkPolicies, kCertificateSigningRequests;
// Every namespaced built-in kind, for sweeping a namespace.
const std::vector<Resource>& NamespacedBuiltins();
}  // namespace resources

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
};

struct ObjectList {
  std::vector<json::Value> items;
  std::string resource_version;
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  json::Value object;
};

struct RetryPolicy {
  int attempts = 6;
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);
};

class ApiClient {
 public:
  ApiClient(std::unique_ptr<Transport> transport, const Clock& clock = RealClock::Get(),
            RetryPolicy retry = {});
  // Convenience: a cpprest transport to `base_url` (http://host:port).
  static std::unique_ptr<ApiClient> Connect(const std::string& base_url);
  static std::unique_ptr<ApiClient> Connect(const Connection& connection);

  absl::StatusOr<json::Value> Get(const Resource& r, const std::string& ns, const std::string& name);
  absl::StatusOr<ObjectList> List(const Resource& r, const std::string& ns, const ListOptions& options = {});
  absl::StatusOr<json::Value> Create(const Resource& r, const std::string& ns, const json::Value& object);
  // PUT of the whole object (metadata.resourceVersion is the precondition when set).
  absl::StatusOr<json::Value> Update(const Resource& r, const json::Value& object);
  absl::StatusOr<json::Value> UpdateStatus(const Resource& r, const json::Value& object);
  // PUT to a subresource of the object (status, finalize, scale).
  absl::StatusOr<json::Value> UpdateSubresource(const Resource& r, const json::Value& object,
                                                const std::string& subresource);
  // content_type: application/merge-patch+json, application/json-patch+json, ...
  absl::StatusOr<json::Value> Patch(const Resource& r, const std::string& ns, const std::string& name,
                                    const json::Value& patch,
                                    const std::string& content_type = "application/merge-patch+json",
                                    const std::string& subresource = "");
  // `options` is a DeleteOptions object (may be null). NotFound is an error.
  absl::Status Delete(const Resource& r, const std::string& ns, const std::string& name,
                      const json::Value& options = json::Value());
  // POST to a create-only subresource (serviceaccounts/{name}/token, pods/{name}/eviction); the
  // answer's object.
  absl::StatusOr<json::Value> CreateSubresource(const Resource& r, const std::string& ns, const std::string& name,
                                                const std::string& subresource, const json::Value& object);
  // pods/{name}/binding.
  absl::Status Bind(const std::string& ns, const std::string& pod, const std::string& node);

  // Watches from `resource_version` until the stream ends (kOk), `cancel` is set (kOk), the
  // server answers 410 (kOutOfRange), or the connection fails (kUnavailable). `handler`
  // returns false to stop. Bookmarks are requested and passed on.
  absl::Status Watch(const Resource& r, const std::string& ns, const ListOptions& options,
                     const std::string& resource_version,
                     const std::function<bool(const WatchEvent&)>& handler,
                     const std::atomic<bool>& cancel, int timeout_seconds = 0);

  // Ends the watches whose cancel flag is set now rather than at their next event.
  void CancelWatches() { transport_->CancelStreams(); }

  static std::string Path(const Resource& r, const std::string& ns, const std::string& name = "",
                          const std::string& subresource = "");

 private:
  absl::StatusOr<json::Value> Call(const std::string& method, const std::string& path,
                                   const json::Value* body, const std::string& content_type);

  std::unique_ptr<Transport> transport_;
  const Clock& clock_;
  RetryPolicy retry_;
};

}  // namespace berth::client
