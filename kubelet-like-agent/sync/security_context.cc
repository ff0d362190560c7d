#include "kubelet-like-agent/sync/security_context.h"

#include <algorithm>
#include <set>
#include <string>

#include "core/strings/strings.h"

namespace berth::agent {
namespace {

// <linux/capability.h>'s names and numbers (the header is not used: its macros would leak
// into every including file, and the numbers are ABI).
constexpr std::pair<const char*, int> kCapabilities[] = {
    {"CHOWN", 0}, {"DAC_OVERRIDE", 1}, {"DAC_READ_SEARCH", 2}, {"FOWNER", 3}, {"FSETID", 4}, {"KILL", 5},
    {"SETGID", 6}, {"SETUID", 7}, {"SETPCAP", 8}, {"LINUX_IMMUTABLE", 9}, {"NET_BIND_SERVICE", 10},
    {"NET_BROADCAST", 11}, {"NET_ADMIN", 12}, {"NET_RAW", 13}, {"IPC_LOCK", 14}, {"IPC_OWNER", 15},
    {"SYS_MODULE", 16}, {"SYS_RAWIO", 17}, {"SYS_CHROOT", 18}, {"SYS_PTRACE", 19}, {"SYS_PACCT", 20},
    {"SYS_ADMIN", 21}, {"SYS_BOOT", 22}, {"SYS_NICE", 23}, {"SYS_RESOURCE", 24}, {"SYS_TIME", 25},
    {"SYS_TTY_CONFIG", 26}, {"MKNOD", 27}, {"LEASE", 28}, {"AUDIT_WRITE", 29}, {"AUDIT_CONTROL", 30},
    {"SETFCAP", 31}, {"MAC_OVERRIDE", 32}, {"MAC_ADMIN", 33}, {"SYSLOG", 34}, {"WAKE_ALARM", 35},
    {"BLOCK_SUSPEND", 36}, {"AUDIT_READ", 37}, {"PERFMON", 38}, {"BPF", 39}, {"CHECKPOINT_RESTORE", 40}};

absl::StatusOr<int> CapabilityNumber(std::string name, const std::string& field) {
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.rfind("CAP_", 0) == 0) name = name.substr(4);
  for (const auto& [n, number] : kCapabilities) {
    if (name == n) return number;
  }
  return absl::InvalidArgumentError(StrCat(field, ": unknown capability \"", name, "\""));
}

const json::Value* Field(const json::Value* sc, const json::Value* psc, std::string_view key) {
  for (const json::Value* ctx : {sc, psc}) {
    if (ctx != nullptr && ctx->Find(key) != nullptr && !ctx->Find(key)->is_null()) return ctx->Find(key);
  }
  return nullptr;
}

}  // namespace

const std::vector<int>& DefaultCapabilities() {
  // CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP
  // NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE
  static const std::vector<int> kDefault = {0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31};
  return kDefault;
}

absl::StatusOr<ContainerSecurity> ResolveSecurity(const json::Value& pod, const json::Value& container, bool seccomp_default) {
  ContainerSecurity out;
  const json::Value* sc = container.Find("securityContext");
  if (sc != nullptr && !sc->is_object()) sc = nullptr;
  const json::Value* psc = pod.Get({"spec", "securityContext"});
  if (psc != nullptr && !psc->is_object()) psc = nullptr;
  const json::Value* privileged = sc ? sc->Find("privileged") : nullptr;
  out.privileged = privileged != nullptr && privileged->is_bool() && privileged->as_bool();
  std::set<int> caps;
  if (out.privileged) {
    for (const auto& [name, number] : kCapabilities) caps.insert(number);
  } else {
    caps.insert(DefaultCapabilities().begin(), DefaultCapabilities().end());
    const json::Value* c = sc ? sc->Find("capabilities") : nullptr;
    auto names = [&](const char* key) -> absl::StatusOr<std::vector<int>> {
      std::vector<int> out_caps;
      const json::Value* list = c && c->is_object() ? c->Find(key) : nullptr;
      if (list == nullptr || !list->is_array()) return out_caps;
      for (const json::Value& n : list->as_array()) {
        std::string name = n.is_string() ? n.as_string() : "";
        std::string field = StrCat("securityContext.capabilities.", key);
        if (name == "ALL" || name == "all") {
          for (const auto& [cap_name, number] : kCapabilities) out_caps.push_back(number);
          continue;
        }
        auto number = CapabilityNumber(name, field);
        if (!number.ok()) return number.status();
        out_caps.push_back(*number);
      }
      return out_caps;
    };
    // drop first, then add: "drop: [ALL], add: [NET_BIND_SERVICE]" keeps exactly the one.
    auto drop = names("drop");
    if (!drop.ok()) return drop.status();
    for (int cap : *drop) caps.erase(cap);
    auto add = names("add");
    if (!add.ok()) return add.status();
    caps.insert(add->begin(), add->end());
  }
  out.capabilities.assign(caps.begin(), caps.end());
  const json::Value* escalation = sc ? sc->Find("allowPrivilegeEscalation") : nullptr;
  out.no_new_privs = !out.privileged && escalation != nullptr && escalation->is_bool() && !escalation->as_bool();
  if (!out.privileged) {
    const json::Value* profile = Field(sc, psc, "seccompProfile");
    std::string type = profile && profile->is_object() ? profile->GetString({"type"}) : "";
    if (type == "Localhost") {
      return absl::InvalidArgumentError(
          "securityContext.seccompProfile: type Localhost is not supported by this node (RuntimeDefault or Unconfined)");
    }
    out.seccomp_runtime_default = type == "RuntimeDefault" || (type.empty() && seccomp_default);
  }
  std::set<uint32_t> groups;
  if (psc != nullptr) {
    if (const json::Value* g = psc->Find("supplementalGroups"); g && g->is_array()) {
      for (const json::Value& v : g->as_array()) {
        if (v.is_int() && v.as_int() >= 0) groups.insert(static_cast<uint32_t>(v.as_int()));
      }
    }
    if (const json::Value* fs_group = psc->Find("fsGroup"); fs_group && fs_group->is_int() && fs_group->as_int() >= 0) {
      groups.insert(static_cast<uint32_t>(fs_group->as_int()));
    }
  }
  out.supplemental_groups.assign(groups.begin(), groups.end());
  return out;
}

}  // namespace berth::agent
