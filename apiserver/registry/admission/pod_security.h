#pragma once
// File: apiserver/registry/admission/pod_security.h
// Pod Security Admission (kubernetes.io/docs/concepts/security/pod-security-standards/): a
// namespace's labels pod-security.kubernetes.io/{enforce,warn,audit}[-version] name a level —
// privileged, baseline or restricted. A pod that violates its namespace's enforce level is
// refused (403, `pods "x" is forbidden: violates PodSecurity "baseline:latest": host
// namespaces (hostNetwork=true), ...`); the warn level adds a `would violate PodSecurity`
// Warning header, for pods and for the pod templates of workloads. The checks and their order
// and wording follow upstream's pod-security-admission; Berth adds one of its own to baseline:
// `image: host` runs on the node's root file system, which is host access like hostPath. The
// audit level is accepted and validated but written nowhere until the audit log exists.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "apiserver/registry/admission/admission_plugin.h"
#include "core/json/value.h"

namespace berth::apiserver::registry {

enum class PodSecurityLevel { kPrivileged, kBaseline, kRestricted };

struct PodSecurityViolation {
  std::string title;   // "host namespaces"
  std::string detail;  // "hostNetwork=true"
};

// What `pod_spec` (with its pod `metadata` for annotations) does that `level` forbids, in
// upstream's order.
std::vector<PodSecurityViolation> CheckPodSecurity(PodSecurityLevel level, const json::Value& metadata,
                                                   const json::Value& pod_spec);
// "title (detail), title (detail)".
std::string FormatViolations(const std::vector<PodSecurityViolation>& violations);

// The cluster's defaults for namespaces without labels, and who is exempt (upstream's
// PodSecurityConfiguration, pod-security.admission.config.k8s.io/v1).
struct PodSecurityMode {
  PodSecurityLevel level = PodSecurityLevel::kPrivileged;
  std::string version = "latest";
};
struct PodSecurityConfiguration {
  PodSecurityMode enforce, warn, audit;
  std::vector<std::string> exempt_usernames, exempt_runtime_classes, exempt_namespaces;
};

// An AdmissionConfiguration (apiserver.config.k8s.io/v1, kube-apiserver's
// --admission-control-config-file) with its PodSecurity plugin's configuration inline; other
// plugins are refused by name (Berth configures no other plugin from that file).
// InvalidArgument naming the field.
absl::StatusOr<PodSecurityConfiguration> ParseAdmissionConfiguration(std::string_view text);

std::shared_ptr<const AdmissionPlugin> PodSecurityAdmission(PodSecurityConfiguration config = {});

}  // namespace berth::apiserver::registry
