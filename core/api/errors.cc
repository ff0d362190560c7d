#include "core/api/errors.h"

#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::api {
namespace {

constexpr std::string_view kPayloadUrl = "type.berth.dev/k8s.io.apimachinery.Status";

struct Row {
  absl::StatusCode code;
  int http;
  const char* reason;
};

// The one table. Codes not listed map to 500 InternalError.
constexpr Row kTable[] = {
    {absl::StatusCode::kInvalidArgument, 400, "BadRequest"},
    {absl::StatusCode::kNotFound, 404, "NotFound"},
    {absl::StatusCode::kAlreadyExists, 409, "AlreadyExists"},
    {absl::StatusCode::kAborted, 409, "Conflict"},
    // Its own reason, so a client tells a failed precondition (uid) from a stale resourceVersion;
    // client-go still sees a 409 with an unknown reason as IsConflict.
    {absl::StatusCode::kFailedPrecondition, 409, "FailedPrecondition"},
    {absl::StatusCode::kOutOfRange, 410, "Expired"},
    {absl::StatusCode::kResourceExhausted, 429, "TooManyRequests"},
    {absl::StatusCode::kUnavailable, 503, "ServiceUnavailable"},
    {absl::StatusCode::kDeadlineExceeded, 504, "Timeout"},
    {absl::StatusCode::kUnimplemented, 405, "MethodNotAllowed"},
    {absl::StatusCode::kPermissionDenied, 403, "Forbidden"},
    {absl::StatusCode::kUnauthenticated, 401, "Unauthorized"},
};

// Reasons that refine a code's HTTP answer (all travel as kInvalidArgument except Gone).
struct Refinement {
  const char* reason;
  int http;
  absl::StatusCode code;
};
constexpr Refinement kRefinements[] = {
    {"Invalid", 422, absl::StatusCode::kInvalidArgument},
    {"UnsupportedMediaType", 415, absl::StatusCode::kInvalidArgument},
    {"RequestEntityTooLarge", 413, absl::StatusCode::kInvalidArgument},
    {"NotAcceptable", 406, absl::StatusCode::kInvalidArgument},
    {"Gone", 410, absl::StatusCode::kOutOfRange},
};

absl::Status Make(absl::StatusCode code, std::string_view message, const json::Value& details,
                  std::string_view reason = "") {
  absl::Status s(code, Sv(message));
  json::Value payload = json::Value::MakeObject();
  if (!reason.empty()) payload.Set("reason", std::string(reason));
  if (details.size() > 0) payload.Set("details", details);
  s.SetPayload(Sv(kPayloadUrl), absl::Cord(json::Serialize(payload)));
  return s;
}

json::Value TargetDetails(const Target& t) {
  json::Value d = json::Value::MakeObject();
  if (!t.name.empty()) d.Set("name", t.name);
  if (!t.group.empty()) d.Set("group", t.group);
  if (!t.kind.empty()) {
    d.Set("kind", t.kind);
  } else if (!t.resource.empty()) {
    d.Set("kind", t.resource);
  }
  return d;
}

json::Value PayloadOf(const absl::Status& status) {
  auto cord = status.GetPayload(Sv(kPayloadUrl));
  if (!cord.has_value()) return json::Value::MakeObject();
  auto parsed = json::Parse(std::string(*cord));
  if (!parsed.ok()) return json::Value::MakeObject();
  return *std::move(parsed);
}

const Row* RowFor(absl::StatusCode code) {
  for (const Row& r : kTable) {
    if (r.code == code) return &r;
  }
  return nullptr;
}

}  // namespace

std::string QualifiedResource(std::string_view group, std::string_view resource) {
  if (group.empty()) return std::string(resource);
  return StrCat(Sv(resource), ".", Sv(group));
}

absl::Status NotFound(const Target& t) {
  return Make(absl::StatusCode::kNotFound,
              StrCat(QualifiedResource(t.group, t.resource), " \"", t.name, "\" not found"),
              TargetDetails(t));
}

absl::Status AlreadyExists(const Target& t) {
  return Make(absl::StatusCode::kAlreadyExists,
              StrCat(QualifiedResource(t.group, t.resource), " \"", t.name,
                           "\" already exists"),
              TargetDetails(t));
}

absl::Status Conflict(const Target& t, std::string_view why) {
  return Make(absl::StatusCode::kAborted,
              StrCat("Operation cannot be fulfilled on ", QualifiedResource(t.group, t.resource),
                           " \"", t.name, "\": ", Sv(why)),
              TargetDetails(t));
}

absl::Status Invalid(const Target& t, std::vector<Cause> causes) {
  json::Value details = TargetDetails(t);
  json::Value list = json::Value::MakeArray();
  std::vector<std::string> parts;
  for (const Cause& c : causes) {
    json::Value cv = json::Value::MakeObject();
    cv.Set("reason", c.reason);
    cv.Set("message", c.message);
    cv.Set("field", c.field);
    list.as_array().push_back(std::move(cv));
    parts.push_back(c.field.empty() ? c.message : StrCat(c.field, ": ", c.message));
  }
  details.Set("causes", std::move(list));
  std::string what = t.kind.empty() ? QualifiedResource(t.group, t.resource)
                                    : (t.group.empty() ? t.kind : StrCat(t.kind, ".", t.group));
  std::string message = StrCat(what, " \"", t.name, "\" is invalid: ");
  if (parts.size() == 1) {
    StrAppend(&message, parts[0]);
  } else {
    StrAppend(&message, "[", absl::StrJoin(parts, ", "), "]");
  }
  return Make(absl::StatusCode::kInvalidArgument, message, details, "Invalid");
}

absl::Status BadRequest(std::string_view message) {
  return absl::InvalidArgumentError(Sv(message));
}
absl::Status Forbidden(std::string_view message) { return absl::PermissionDeniedError(Sv(message)); }
absl::Status Forbidden(const Target& t, std::string_view why) {
  return Make(absl::StatusCode::kPermissionDenied,
              StrCat(QualifiedResource(t.group, t.resource), " \"", t.name, "\" is forbidden: ", Sv(why)), TargetDetails(t));
}
absl::Status AccessForbidden(std::string_view message, const Target& t) {
  return Make(absl::StatusCode::kPermissionDenied, message, TargetDetails(t));
}
absl::Status TooManyRequests(std::string_view message, std::vector<Cause> causes) {
  json::Value details = json::Value::MakeObject();
  if (!causes.empty()) {
    json::Value list = json::Value::MakeArray();
    for (const Cause& c : causes) {
      json::Value cv = json::Value::MakeObject();
      cv.Set("reason", c.reason);
      cv.Set("message", c.message);
      if (!c.field.empty()) cv.Set("field", c.field);
      list.as_array().push_back(std::move(cv));
    }
    details.Set("causes", std::move(list));
  }
  return Make(absl::StatusCode::kResourceExhausted, message, details);
}
absl::Status InternalError(std::string_view what) {
  json::Value details = json::Value::MakeObject();
  json::Value list = json::Value::MakeArray();
  json::Value cause = json::Value::MakeObject();
  cause.Set("message", std::string(what));
  list.as_array().push_back(std::move(cause));
  details.Set("causes", std::move(list));
  return Make(absl::StatusCode::kInternal, StrCat("Internal error occurred: ", Sv(what)), details, "InternalError");
}
absl::Status Expired(std::string_view message) { return absl::OutOfRangeError(Sv(message)); }
absl::Status UnsupportedMediaType(std::string_view message) {
  return Make(absl::StatusCode::kInvalidArgument, message, json::Value(), "UnsupportedMediaType");
}
absl::Status RequestEntityTooLarge(std::string_view message) {
  return Make(absl::StatusCode::kInvalidArgument, message, json::Value(), "RequestEntityTooLarge");
}
absl::Status NotAcceptable(std::string_view message) {
  return Make(absl::StatusCode::kInvalidArgument, message, json::Value(), "NotAcceptable");
}
absl::Status MethodNotAllowed(std::string_view message) {
  return absl::UnimplementedError(Sv(message));
}
absl::Status PathNotFound() {
  return absl::NotFoundError("the server could not find the requested resource");
}

HttpError ToHttp(const absl::Status& status) {
  HttpError out;
  const Row* row = RowFor(status.code());
  out.code = row ? row->http : 500;
  out.reason = row ? row->reason : "InternalError";
  json::Value payload = PayloadOf(status);
  std::string reason = payload.GetString({"reason"});
  for (const Refinement& r : kRefinements) {
    if (reason == r.reason && status.code() == r.code) {
      out.code = r.http;
      out.reason = r.reason;
    }
  }
  std::string message(status.message());
  if (out.code == 500 && message.empty()) message = "internal error";
  json::Value body = json::Value::MakeObject();
  body.Set("kind", "Status");
  body.Set("apiVersion", "v1");
  body.Set("metadata", json::Value::MakeObject());
  body.Set("status", "Failure");
  body.Set("message", message);
  body.Set("reason", out.reason);
  if (const json::Value* d = payload.Find("details")) body.Set("details", *d);
  body.Set("code", out.code);
  out.body = std::move(body);
  return out;
}

absl::Status FromHttp(int code, std::string_view body) {
  auto parsed = json::Parse(body);
  std::string message;
  std::string reason;
  json::Value details;
  if (parsed.ok() && parsed->GetString({"kind"}) == "Status") {
    message = parsed->GetString({"message"});
    reason = parsed->GetString({"reason"});
    if (const json::Value* d = parsed->Find("details")) details = *d;
  } else {
    message = StrCat("HTTP ", code, ": ", Sv(body.substr(0, 512)));
  }
  absl::StatusCode sc = absl::StatusCode::kUnknown;
  for (const Refinement& r : kRefinements) {
    if (r.http == code) sc = r.code;
  }
  if (sc == absl::StatusCode::kUnknown) {
    for (const Row& r : kTable) {
      if (r.http == code && (reason.empty() || reason == r.reason)) {
        sc = r.code;
        break;
      }
    }
  }
  if (sc == absl::StatusCode::kUnknown) {
    sc = code >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
  return Make(sc, message, details, reason);
}

std::string ReasonOf(const absl::Status& status) {
  if (status.ok()) return "";
  return ToHttp(status).reason;
}

std::vector<Cause> CausesOf(const absl::Status& status) {
  std::vector<Cause> out;
  json::Value payload = PayloadOf(status);
  const json::Value* causes = payload.Get({"details", "causes"});
  if (causes == nullptr || !causes->is_array()) return out;
  for (const json::Value& c : causes->as_array()) {
    out.push_back({c.GetString({"reason"}), c.GetString({"message"}), c.GetString({"field"})});
  }
  return out;
}

}  // namespace berth::api
