#pragma once
// File: core/api/errors.h
// The single table between absl::Status and Kubernetes `Status` objects with their HTTP codes.
// The server renders errors with ToHttp(); the client parses them back with FromHttp(), so a
// status survives the round trip. Kubernetes detail (reason, kind, name, field causes) travels
// in a payload on the absl::Status.
//
//   kInvalidArgument   400 BadRequest (422 Invalid / 413 / 415 / 406 through the payload)
//   kNotFound          404 NotFound         kAlreadyExists  409 AlreadyExists
//   kAborted           409 Conflict         kFailedPrecondition 409 Conflict
//   kOutOfRange        410 Expired          kResourceExhausted  429 TooManyRequests
//   kUnavailable       503 ServiceUnavailable  kDeadlineExceeded 504 Timeout
//   kUnimplemented     405 MethodNotAllowed kPermissionDenied   403 Forbidden
//   kUnauthenticated   401 Unauthorized     others              500 InternalError

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/json/value.h"

namespace berth::api {

struct Cause {
  std::string reason;   // FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, ...
  std::string message;
  std::string field;    // JSON path such as spec.containers[0].image
};

// Names the object an error is about: `resource` is the plural ("pods"), `group` its API group.
struct Target {
  std::string group;
  std::string resource;
  std::string name;
  std::string kind;  // for Invalid: the Kind ("Pod")
};

absl::Status NotFound(const Target& t);
absl::Status AlreadyExists(const Target& t);
absl::Status Conflict(const Target& t, std::string_view why);
absl::Status Invalid(const Target& t, std::vector<Cause> causes);
absl::Status BadRequest(std::string_view message);
absl::Status Forbidden(std::string_view message);
// Admission's refusal of one object: `pods "p" is forbidden: <why>` (403, details name the object).
absl::Status Forbidden(const Target& t, std::string_view why);
// An authorizer's refusal: `message` as it is, details naming the target (may have no name).
absl::Status AccessForbidden(std::string_view message, const Target& t);
absl::Status Expired(std::string_view message);
// 429 TooManyRequests with causes (an eviction refused by a disruption budget).
absl::Status TooManyRequests(std::string_view message, std::vector<Cause> causes = {});
// 500 InternalError: "Internal error occurred: <what>", as Kubernetes' NewInternalError.
absl::Status InternalError(std::string_view what);
absl::Status UnsupportedMediaType(std::string_view message);
absl::Status RequestEntityTooLarge(std::string_view message);
absl::Status NotAcceptable(std::string_view message);
absl::Status MethodNotAllowed(std::string_view message);
absl::Status PathNotFound();

// "pods" or "deployments.apps": how Kubernetes names a resource in messages.
std::string QualifiedResource(std::string_view group, std::string_view resource);

struct HttpError {
  int code = 500;
  std::string reason;
  json::Value body;  // a complete v1 Status object
};
HttpError ToHttp(const absl::Status& status);

// Parses a Status body (or any non-2xx answer) back into an absl::Status with the same payload.
absl::Status FromHttp(int code, std::string_view body);

// Kubernetes reason of a status ("NotFound", "Invalid", ...); empty for OK.
std::string ReasonOf(const absl::Status& status);
std::vector<Cause> CausesOf(const absl::Status& status);

}  // namespace berth::api
