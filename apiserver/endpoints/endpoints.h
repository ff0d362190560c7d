#pragma once
// File: apiserver/endpoints/endpoints.h
// The resource endpoints, one file per verb (as Kubernetes' apiserver/pkg/endpoints/handlers):
// each turns a routed request into registry calls and a Kubernetes-shaped answer. The router
// (server/api_handler.cc) picks one after the filters ran; writes, lists and watch set-up run
// on the work pool, since they may wait for a durable commit or read storage.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/endpoints/exchange.h"
#include "apiserver/registry/registry.h"
#include "apiserver/server/table/table.h"
#include "apiserver/watch/watch_cache.h"
#include "core/time/clock.h"

namespace berth::apiserver::endpoints {

namespace table = server::table;

// What every endpoint works with.
struct Endpoints {
  registry::Registry& registry;
  watch::WatchCache& watch_cache;
  const Clock& clock;
  // How to reach agents (exec, attach, port-forward, logs): with a certificate, HTTPS presenting
  // it (the apiserver's kubelet-client identity); without, plain HTTP (development clusters).
  http::RelayTls agent_tls = {};
  // Whether `user` may `verb` the cluster-scoped object `name` of `group`/`resource`, as the
  // authorizers decide; unset when the server authorizes nothing (every request allowed).
  std::function<bool(const auth::UserInfo& user, const std::string& verb, const std::string& group,
                     const std::string& resource, const std::string& name)>
      permits;
};

using ExchangePtr = std::shared_ptr<Exchange>;

// get.cc: one object (answered on the network thread: a read of the store, no parse).
void ServeGet(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type);
// list.cc: a page of objects, as a List or a Table.
void ServeList(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type);
void ReplyTable(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type,
                const std::vector<json::Value>& objects, const std::string& resource_version,
                const std::string& continue_token, const table::TableOptions& options);
// watch.cc: JSON lines, Server-Sent Events or Table rows from a revision on.
void ServeWatch(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type);
// create.cc: POST of a new object, committed asynchronously.
void ServeCreate(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type);
// write.cc: PUT, PATCH (server-side apply included), dry-run POST, and the write subresources
// (status, binding, finalize).
void ServeWrite(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type);
// delete.cc: DELETE with DeleteOptions.
void ServeDelete(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type);
// scale.cc: /scale GET, PUT and PATCH.
void ServeScale(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type);
// log.cc: pods/{name}/log, proxied to the agent of the pod's node. Holds a work thread while
// following.
void ServeLog(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type);
// pods/{name}/exec, attach and portforward: checks the pod and container, then relays the
// client's upgraded connection to the agent of the pod's node.
void ServeConnect(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type);

// certificate_signers.cc: approving or denying a CertificateSigningRequest (`approve`) and
// setting its certificate (`sign`) need that verb on its signer (`signers`, named signerName or
// "<domain>/*"); 403 "user not permitted to approve requests with signerName ..." otherwise.
bool IsCertificateSigningRequest(const registry::ResourceType& type);
absl::Status CheckSignerPermission(const Endpoints& c, const auth::UserInfo& user, const std::string& verb,
                                   const registry::ResourceType& type, const json::Value& csr);
// A status write (`write`, run here as a dry run when the user is no signer) that would change
// status.certificate needs `sign`.
absl::Status CheckCertificateWrite(const Endpoints& c, const auth::UserInfo& user, const registry::ResourceType& type,
                                   const std::string& name, const registry::WriteOptions& options,
                                   const std::function<absl::StatusOr<registry::WriteResult>(const registry::WriteOptions&)>& write);

// request_options.cc: query parameters the write endpoints share.
bool ParseBool(const std::string& s);
// dryRun: a list whose only valid value is "All"; anything else is 400 before anything happens.
absl::Status CheckDryRunValue(const std::string& value, bool& dry_run);
absl::Status ParseDryRun(const http::Request& req, bool& dry_run);
// fieldValidation (Strict, Warn, Ignore), fieldManager, force.
// Also records the requester for admission.
absl::Status ParseFieldOptions(const RequestContext& ctx, registry::WriteOptions& options);
// The Status a DELETE answers for kinds that do not return the deleted object.
json::Value SuccessStatus(const registry::ResourceType& type, const json::Value& object);

}  // namespace berth::apiserver::endpoints
