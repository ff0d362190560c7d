#pragma once
// File: apiserver/audit/auditor.h
// Turns one answered request into an audit.k8s.io/v1 Event line, at the level the policy gives
// it: Metadata (who, what, when, the answer's code), Request (and the request's JSON body),
// RequestResponse (and the answer's). Long-running requests (watch, follow, exec) are recorded
// when their response starts (stage ResponseStarted), others when answered (ResponseComplete).

#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "apiserver/audit/audit_file.h"
#include "apiserver/audit/audit_policy.h"

namespace berth::apiserver::audit {

struct AuditRecord {
  std::string audit_id;
  std::string stage;  // ResponseStarted | ResponseComplete
  RequestAttributes attributes;
  std::string api_version;  // of the resource
  std::string request_uri, source_ip, user_agent;
  int code = 0;
  absl::Time received, answered;
  const std::string* request_body = nullptr;  // JSON bodies are recorded from level Request
  const std::string* response_body = nullptr;  // from level RequestResponse
  const std::map<std::string, std::string>* annotations = nullptr;  // from admission; null: none
};

class Auditor {
 public:
  Auditor(AuditPolicy policy, std::unique_ptr<AuditFile> file) : policy_(std::move(policy)), file_(std::move(file)) {}
  void Record(const AuditRecord& record) const;  // thread-safe: the file serializes lines
  // The event line for `record` at `level` (exposed for tests).
  static std::string EventLine(const AuditRecord& record, Level level);

 private:
  const AuditPolicy policy_;
  std::unique_ptr<AuditFile> file_;
};

// A fresh random (version 4) UUID: the request's Audit-Id.
std::string NewAuditId();

}  // namespace berth::apiserver::audit
