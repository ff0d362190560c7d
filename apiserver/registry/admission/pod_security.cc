#include "apiserver/registry/admission/pod_security.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_join.h"
#include "apiserver/registry/registry.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"
#include "core/yaml/yaml_codec.h"

namespace berth::apiserver::registry {
namespace {

constexpr char kLabelPrefix[] = "pod-security.kubernetes.io/";

struct Container {
  std::string name;
  const json::Value* c;
  const json::Value* Sc(std::string_view field) const { return c->Get({"securityContext", field}); }
};

std::vector<Container> Containers(const json::Value& spec) {
  std::vector<Container> out;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    const json::Value* cs = spec.Find(list);
    if (cs == nullptr || !cs->is_array()) continue;
    for (const json::Value& c : cs->as_array()) out.push_back({c.GetString({"name"}), &c});
  }
  return out;
}

bool IsTrue(const json::Value* v) { return v && v->is_bool() && v->as_bool(); }
bool IsFalse(const json::Value* v) { return v && v->is_bool() && !v->as_bool(); }

std::string Quoted(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  for (const std::string& n : names) q.push_back(StrCat("\"", n, "\""));
  return absl::StrJoin(q, ", ");
}

// `container "a"` or `containers "a", "b"`.
std::string Named(const char* singular, const char* plural, const std::vector<std::string>& names) {
  return StrCat(names.size() == 1 ? singular : plural, " ", Quoted(names));
}

std::string ContainersThat(const std::vector<std::string>& names) { return Named("container", "containers", names); }

std::vector<std::string> StringsAt(const json::Value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const json::Value& s : v->as_array()) {
    if (s.is_string()) out.push_back(s.as_string());
  }
  return out;
}

using Violations = std::vector<PodSecurityViolation>;

void AllowPrivilegeEscalation(const std::vector<Container>& cs, Violations& out) {
  std::vector<std::string> bad;
  for (const auto& c : cs) {
    if (!IsFalse(c.Sc("allowPrivilegeEscalation"))) bad.push_back(c.name);
  }
  if (!bad.empty()) {
    out.push_back({"allowPrivilegeEscalation != false",
                   StrCat(ContainersThat(bad), " must set securityContext.allowPrivilegeEscalation=false")});
  }
}

void Capabilities(const std::vector<Container>& cs, bool restricted, Violations& out) {
  static const std::set<std::string> kBaseline = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                                  "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"};
  std::vector<std::string> parts, no_drop;
  for (const auto& c : cs) {
    std::vector<std::string> drop = StringsAt(c.c->Get({"securityContext", "capabilities", "drop"}));
    if (restricted && std::find(drop.begin(), drop.end(), "ALL") == drop.end()) no_drop.push_back(c.name);
  }
  if (!no_drop.empty()) parts.push_back(StrCat(ContainersThat(no_drop), " must set securityContext.capabilities.drop=[\"ALL\"]"));
  for (const auto& c : cs) {
    std::vector<std::string> bad;
    for (const std::string& cap : StringsAt(c.c->Get({"securityContext", "capabilities", "add"}))) {
      bool allowed = restricted ? cap == "NET_BIND_SERVICE" : kBaseline.count(cap) > 0;
      if (!allowed) bad.push_back(cap);
    }
    if (!bad.empty()) {
      parts.push_back(StrCat("container \"", c.name, "\" must not include ", Quoted(bad), " in securityContext.capabilities.add"));
    }
  }
  if (!parts.empty()) out.push_back({restricted ? "unrestricted capabilities" : "non-default capabilities", absl::StrJoin(parts, "; ")});
}

void HostNamespaces(const json::Value& spec, Violations& out) {
  std::vector<std::string> set;
  for (const char* f : {"hostNetwork", "hostPID", "hostIPC"}) {
    if (IsTrue(spec.Find(f))) set.push_back(StrCat(f, "=true"));
  }
  if (!set.empty()) out.push_back({"host namespaces", absl::StrJoin(set, ", ")});
}

void HostPathVolumes(const json::Value& spec, Violations& out) {
  std::vector<std::string> names;
  if (const json::Value* vs = spec.Find("volumes"); vs && vs->is_array()) {
    for (const json::Value& v : vs->as_array()) {
      if (v.Find("hostPath")) names.push_back(v.GetString({"name"}));
    }
  }
  if (!names.empty()) out.push_back({"hostPath volumes", Named("volume", "volumes", names)});
}

void HostPorts(const std::vector<Container>& cs, Violations& out) {
  std::vector<std::string> parts;
  for (const auto& c : cs) {
    std::vector<std::string> ports;
    if (const json::Value* ps = c.c->Find("ports"); ps && ps->is_array()) {
      for (const json::Value& p : ps->as_array()) {
        int64_t hp = p.GetInt({"hostPort"}, 0);
        if (hp != 0) ports.push_back(std::to_string(hp));
      }
    }
    if (!ports.empty()) {
      parts.push_back(StrCat("container \"", c.name, "\" uses ", ports.size() == 1 ? "hostPort " : "hostPorts ",
                             absl::StrJoin(ports, ", ")));
    }
  }
  if (!parts.empty()) out.push_back({"hostPort", absl::StrJoin(parts, "; ")});
}

// Berth's own: the `host` image runs on the node's root file system.
void HostImage(const std::vector<Container>& cs, Violations& out) {
  std::vector<std::string> names;
  for (const auto& c : cs) {
    if (c.c->GetString({"image"}) == "host") names.push_back(c.name);
  }
  if (!names.empty()) {
    out.push_back({"host filesystem", StrCat(ContainersThat(names), " must not use image \"host\" (the node's root file system)")});
  }
}

void Privileged(const std::vector<Container>& cs, Violations& out) {
  std::vector<std::string> names;
  for (const auto& c : cs) {
    if (IsTrue(c.Sc("privileged"))) names.push_back(c.name);
  }
  if (!names.empty()) out.push_back({"privileged", StrCat(ContainersThat(names), " must not set securityContext.privileged=true")});
}

void ProcMount(const std::vector<Container>& cs, Violations& out) {
  std::vector<std::string> names;
  for (const auto& c : cs) {
    const json::Value* pm = c.Sc("procMount");
    if (pm && pm->is_string() && pm->as_string() != "Default") names.push_back(c.name);
  }
  if (!names.empty()) {
    out.push_back({"procMount", StrCat(ContainersThat(names), " must not set securityContext.procMount to \"Unmasked\"")});
  }
}

void RestrictedVolumes(const json::Value& spec, Violations& out) {
  static const std::set<std::string> kAllowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                                 "persistentVolumeClaim", "projected", "secret"};
  std::vector<std::string> names, types;
  if (const json::Value* vs = spec.Find("volumes"); vs && vs->is_array()) {
    for (const json::Value& v : vs->as_array()) {
      if (!v.is_object()) continue;
      for (const auto& [key, value] : v.as_object()) {
        if (key == "name" || kAllowed.count(key)) continue;
        names.push_back(v.GetString({"name"}));
        if (std::find(types.begin(), types.end(), key) == types.end()) types.push_back(key);
      }
    }
  }
  if (names.empty()) return;
  out.push_back({"restricted volume types",
                 StrCat(Named("volume", "volumes", names), names.size() == 1 ? " uses " : " use ", "restricted volume ",
                        types.size() == 1 ? "type " : "types ", Quoted(types))});
}

void RunAsNonRoot(const json::Value& spec, const std::vector<Container>& cs, Violations& out) {
  const json::Value* pod = spec.Get({"securityContext", "runAsNonRoot"});
  std::vector<std::string> parts, explicit_false, unset;
  if (IsFalse(pod)) parts.push_back("pod must not set securityContext.runAsNonRoot=false");
  for (const auto& c : cs) {
    const json::Value* v = c.Sc("runAsNonRoot");
    if (IsFalse(v)) {
      explicit_false.push_back(c.name);
    } else if (!IsTrue(v) && !IsTrue(pod)) {
      unset.push_back(c.name);
    }
  }
  if (!explicit_false.empty()) parts.push_back(StrCat(ContainersThat(explicit_false), " must not set securityContext.runAsNonRoot=false"));
  if (!unset.empty() && !IsFalse(pod)) {
    parts.push_back(StrCat("pod or ", ContainersThat(unset), " must set securityContext.runAsNonRoot=true"));
  }
  if (!parts.empty()) out.push_back({"runAsNonRoot != true", absl::StrJoin(parts, "; ")});
}

void RunAsUser(const json::Value& spec, const std::vector<Container>& cs, Violations& out) {
  std::vector<std::string> parts, names;
  if (const json::Value* u = spec.Get({"securityContext", "runAsUser"}); u && u->is_int() && u->as_int() == 0) {
    parts.push_back("pod must not set runAsUser=0");
  }
  for (const auto& c : cs) {
    if (const json::Value* u = c.Sc("runAsUser"); u && u->is_int() && u->as_int() == 0) names.push_back(c.name);
  }
  if (!names.empty()) parts.push_back(StrCat(ContainersThat(names), " must not set runAsUser=0"));
  if (!parts.empty()) out.push_back({"runAsUser=0", absl::StrJoin(parts, "; ")});
}

void SeLinux(const json::Value& spec, const std::vector<Container>& cs, Violations& out) {
  static const std::set<std::string> kTypes = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"};
  auto bad = [](const json::Value* o) {
    if (o == nullptr) return false;
    return !kTypes.count(o->GetString({"type"})) || !o->GetString({"user"}).empty() || !o->GetString({"role"}).empty();
  };
  std::vector<std::string> names;
  bool pod = bad(spec.Get({"securityContext", "seLinuxOptions"}));
  for (const auto& c : cs) {
    if (bad(c.Sc("seLinuxOptions"))) names.push_back(c.name);
  }
  if (!pod && names.empty()) return;
  std::string who = pod ? (names.empty() ? "pod" : StrCat("pod and ", ContainersThat(names))) : ContainersThat(names);
  out.push_back({"seLinuxOptions", StrCat(who, " set forbidden securityContext.seLinuxOptions")});
}

std::string SeccompType(const json::Value* sc) { return sc ? sc->GetString({"seccompProfile", "type"}) : ""; }

void Seccomp(const json::Value& spec, const std::vector<Container>& cs, bool restricted, Violations& out) {
  std::string pod = SeccompType(spec.Find("securityContext"));
  std::vector<std::string> parts, unconfined, unset;
  if (pod == "Unconfined") parts.push_back("pod must not set securityContext.seccompProfile.type to \"Unconfined\"");
  for (const auto& c : cs) {
    std::string t = SeccompType(c.c->Find("securityContext"));
    if (t == "Unconfined") {
      unconfined.push_back(c.name);
    } else if (restricted && t.empty() && pod != "RuntimeDefault" && pod != "Localhost") {
      unset.push_back(c.name);
    }
  }
  if (!unconfined.empty()) {
    parts.push_back(StrCat(ContainersThat(unconfined), " must not set securityContext.seccompProfile.type to \"Unconfined\""));
  }
  if (!unset.empty() && pod != "Unconfined") {
    parts.push_back(StrCat("pod or ", ContainersThat(unset),
                           " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\""));
  }
  if (!parts.empty()) out.push_back({"seccompProfile", absl::StrJoin(parts, "; ")});
}

void Sysctls(const json::Value& spec, Violations& out) {
  static const std::set<std::string> kSafe = {
      "kernel.shm_rmid_forced",       "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
      "net.ipv4.tcp_syncookies",      "net.ipv4.ping_group_range",    "net.ipv4.ip_local_reserved_ports",
      "net.ipv4.tcp_keepalive_time",  "net.ipv4.tcp_fin_timeout",     "net.ipv4.tcp_keepalive_intvl",
      "net.ipv4.tcp_keepalive_probes"};
  std::vector<std::string> bad;
  if (const json::Value* ss = spec.Get({"securityContext", "sysctls"}); ss && ss->is_array()) {
    for (const json::Value& s : ss->as_array()) {
      std::string n = s.GetString({"name"});
      if (!kSafe.count(n)) bad.push_back(n);
    }
  }
  if (!bad.empty()) out.push_back({"forbidden sysctls", absl::StrJoin(bad, ", ")});
}

void AppArmor(const json::Value& metadata, const std::vector<Container>& cs, Violations& out) {
  std::vector<std::string> parts;
  for (const auto& c : cs) {
    std::string profile =
        metadata.GetString({"annotations", StrCat("container.apparmor.security.beta.kubernetes.io/", c.name)});
    const json::Value* typed = c.c->Get({"securityContext", "appArmorProfile", "type"});
    if (profile == "unconfined" || (typed && typed->is_string() && typed->as_string() == "Unconfined")) {
      parts.push_back(StrCat("container \"", c.name, "\" must not set appArmorProfile type to \"Unconfined\""));
    }
  }
  if (!parts.empty()) out.push_back({"forbidden AppArmor profile", absl::StrJoin(parts, "; ")});
}

bool ParseLevel(const std::string& text, PodSecurityLevel& level) {
  if (text == "privileged") level = PodSecurityLevel::kPrivileged;
  else if (text == "baseline") level = PodSecurityLevel::kBaseline;
  else if (text == "restricted") level = PodSecurityLevel::kRestricted;
  else return false;
  return true;
}

const char* LevelName(PodSecurityLevel l) {
  return l == PodSecurityLevel::kRestricted ? "restricted" : l == PodSecurityLevel::kBaseline ? "baseline" : "privileged";
}

bool ValidVersion(const std::string& v) {
  if (v.empty() || v == "latest") return true;
  if (v.size() < 4 || v.rfind("v1.", 0) != 0) return false;
  return std::all_of(v.begin() + 3, v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct Mode {
  bool set = false;
  PodSecurityLevel level = PodSecurityLevel::kPrivileged;
  std::string version = "latest";
};

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

class PodSecurity final : public AdmissionPlugin {
 public:
  explicit PodSecurity(PodSecurityConfiguration config) : config_(std::move(config)) {}

  absl::Status Validate(const AdmissionAttributes& attrs, const json::Value& object) const override {
    const ResourceType& type = attrs.type;
    if (type.group.empty() && type.kind == "Namespace") return ValidateLabels(object);
    const json::Value* spec = nullptr;
    const json::Value* meta = nullptr;
    bool is_pod = type.group.empty() && type.kind == "Pod";
    if (is_pod) {
      spec = object.Find("spec");
      meta = object.Find("metadata");
      // Upstream checks pod updates only when the spec changes (labels and the like are free).
      if (attrs.old && attrs.old->Find("spec") && spec && *attrs.old->Find("spec") == *spec) return absl::OkStatus();
    } else if (const json::Value* tmpl = TemplateOf(type, object)) {
      spec = tmpl->Find("spec");
      meta = tmpl->Find("metadata");
    }
    if (spec == nullptr) return absl::OkStatus();
    json::Value empty_meta = json::Value::MakeObject();
    const std::string ns = object.GetString({"metadata", "namespace"});
    // Upstream's exemptions: checked before anything else, and then nothing applies.
    if (Contains(config_.exempt_namespaces, ns) || (attrs.user && Contains(config_.exempt_usernames, attrs.user->name)) ||
        Contains(config_.exempt_runtime_classes, spec->GetString({"runtimeClassName"}))) {
      return absl::OkStatus();
    }
    Mode enforce = Default(config_.enforce), warn = Default(config_.warn), audit = Default(config_.audit);
    ReadModes(attrs.registry, ns, enforce, warn, audit);
    // Upstream's audit annotations: the policy a pod was judged by, and what the audit level
    // would refuse (the event of the request carries them; nothing is refused for it).
    if (is_pod && attrs.audit_annotations != nullptr) {
      (*attrs.audit_annotations)["pod-security.kubernetes.io/enforce-policy"] =
          StrCat(LevelName(enforce.level), ":", enforce.version);
      if (audit.set && audit.level != PodSecurityLevel::kPrivileged) {
        auto v = CheckPodSecurity(audit.level, meta ? *meta : empty_meta, *spec);
        if (!v.empty()) {
          (*attrs.audit_annotations)["pod-security.kubernetes.io/audit-violations"] =
              StrCat("would violate PodSecurity \"", LevelName(audit.level), ":", audit.version, "\": ", FormatViolations(v));
        }
      }
    }
    if (is_pod && enforce.set && enforce.level != PodSecurityLevel::kPrivileged) {
      auto v = CheckPodSecurity(enforce.level, meta ? *meta : empty_meta, *spec);
      if (!v.empty()) {
        return api::Forbidden(type.Target(object.GetString({"metadata", "name"})),
                              StrCat("violates PodSecurity \"", LevelName(enforce.level), ":", enforce.version, "\": ",
                                     FormatViolations(v)));
      }
    }
    if (warn.set && warn.level != PodSecurityLevel::kPrivileged && attrs.warnings) {
      auto v = CheckPodSecurity(warn.level, meta ? *meta : empty_meta, *spec);
      if (!v.empty()) {
        attrs.warnings->push_back(StrCat("would violate PodSecurity \"", LevelName(warn.level), ":", warn.version, "\": ",
                                         FormatViolations(v)));
      }
    }
    return absl::OkStatus();
  }

 private:
  static const json::Value* TemplateOf(const ResourceType& type, const json::Value& object) {
    if (type.group == "apps" || (type.group == "batch" && type.kind == "Job")) return object.Get({"spec", "template"});
    if (type.group == "batch" && type.kind == "CronJob") return object.Get({"spec", "jobTemplate", "spec", "template"});
    return nullptr;
  }

  static absl::Status ValidateLabels(const json::Value& ns) {
    std::vector<api::Cause> causes;
    const json::Value* labels = ns.Get({"metadata", "labels"});
    if (labels == nullptr || !labels->is_object()) return absl::OkStatus();
    for (const auto& [key, value] : labels->as_object()) {
      if (key.rfind(kLabelPrefix, 0) != 0 || !value.is_string()) continue;
      std::string mode = key.substr(sizeof(kLabelPrefix) - 1);
      const std::string& v = value.as_string();
      PodSecurityLevel level;
      if ((mode == "enforce" || mode == "warn" || mode == "audit") && !ParseLevel(v, level)) {
        causes.push_back({"FieldValueInvalid",
                          StrCat("Invalid value: \"", v, "\": must be one of privileged, baseline, restricted"),
                          StrCat("metadata.labels[", key, "]")});
      } else if ((mode == "enforce-version" || mode == "warn-version" || mode == "audit-version") && !ValidVersion(v)) {
        causes.push_back({"FieldValueInvalid", StrCat("Invalid value: \"", v, "\": must be \"latest\" or \"v1.x\""),
                          StrCat("metadata.labels[", key, "]")});
      }
    }
    if (causes.empty()) return absl::OkStatus();
    return api::Invalid({"", "namespaces", ns.GetString({"metadata", "name"}), "Namespace"}, causes);
  }

  static Mode Default(const PodSecurityMode& m) {
    return {m.level != PodSecurityLevel::kPrivileged, m.level, m.version};
  }

  const PodSecurityConfiguration config_;

  static void ReadModes(const Registry& registry, const std::string& ns, Mode& enforce, Mode& warn, Mode& audit) {
    const ResourceType* namespaces = registry.catalog().Find("", "v1", "namespaces");
    if (namespaces == nullptr || ns.empty()) return;
    auto stored = registry.Get(*namespaces, "", ns);
    if (!stored.ok()) return;
    auto obj = json::ParseStored(*stored);
    if (!obj.ok()) return;
    auto read = [&](const char* mode, Mode& out) {
      std::string level = obj->GetString({"metadata", "labels", StrCat(kLabelPrefix, mode)});
      if (level.empty() || !ParseLevel(level, out.level)) return;
      out.set = out.level != PodSecurityLevel::kPrivileged;
      out.version = "latest";
      std::string version = obj->GetString({"metadata", "labels", StrCat(kLabelPrefix, mode, "-version")});
      if (!version.empty()) out.version = version;
    };
    read("enforce", enforce);
    read("warn", warn);
    read("audit", audit);
  }
};

}  // namespace

std::vector<PodSecurityViolation> CheckPodSecurity(PodSecurityLevel level, const json::Value& metadata,
                                                   const json::Value& spec) {
  Violations out;
  if (level == PodSecurityLevel::kPrivileged) return out;
  const bool restricted = level == PodSecurityLevel::kRestricted;
  std::vector<Container> cs = Containers(spec);
  if (restricted) AllowPrivilegeEscalation(cs, out);
  AppArmor(metadata, cs, out);
  Capabilities(cs, restricted, out);
  HostNamespaces(spec, out);
  if (!restricted) HostPathVolumes(spec, out);
  HostPorts(cs, out);
  HostImage(cs, out);
  Privileged(cs, out);
  ProcMount(cs, out);
  if (restricted) {
    RestrictedVolumes(spec, out);
    RunAsNonRoot(spec, cs, out);
    RunAsUser(spec, cs, out);
  }
  SeLinux(spec, cs, out);
  Seccomp(spec, cs, restricted, out);
  Sysctls(spec, out);
  return out;
}

std::string FormatViolations(const std::vector<PodSecurityViolation>& violations) {
  std::vector<std::string> parts;
  for (const auto& v : violations) parts.push_back(StrCat(v.title, " (", v.detail, ")"));
  return absl::StrJoin(parts, ", ");
}

std::shared_ptr<const AdmissionPlugin> PodSecurityAdmission(PodSecurityConfiguration config) {
  return std::make_shared<PodSecurity>(std::move(config));
}

absl::StatusOr<PodSecurityConfiguration> ParseAdmissionConfiguration(std::string_view text) {
  auto doc = yaml::ParseSingle(text, 16);
  auto invalid = [](const std::string& field, const std::string& why) {
    return absl::InvalidArgumentError(StrCat(field, ": ", why));
  };
  if (!doc.ok()) return absl::InvalidArgumentError(StrCat("not YAML or JSON: ", doc.status().message()));
  if (!doc->is_object() || doc->GetString({"kind"}) != "AdmissionConfiguration") {
    return invalid("kind", "Invalid value: want AdmissionConfiguration");
  }
  PodSecurityConfiguration out;
  const json::Value* plugins = doc->Find("plugins");
  if (plugins == nullptr || !plugins->is_array()) return out;
  for (size_t i = 0; i < plugins->size(); ++i) {
    const json::Value& plugin = plugins->as_array()[i];
    std::string field = StrCat("plugins[", i, "]");
    std::string name = plugin.GetString({"name"});
    if (name != "PodSecurity") {
      return invalid(StrCat(field, ".name"), StrCat("Unsupported value: \"", name, "\": Berth reads the PodSecurity "
                                                    "plugin's configuration only"));
    }
    if (plugin.Find("path")) return invalid(StrCat(field, ".path"), "Unsupported value: give the configuration inline");
    const json::Value* config = plugin.Find("configuration");
    if (config == nullptr || !config->is_object()) return invalid(StrCat(field, ".configuration"), "Required value");
    field += ".configuration";
    if (config->GetString({"kind"}) != "PodSecurityConfiguration") {
      return invalid(StrCat(field, ".kind"), "Invalid value: want PodSecurityConfiguration");
    }
    for (auto [mode, into] : {std::pair{"enforce", &out.enforce}, std::pair{"warn", &out.warn}, std::pair{"audit", &out.audit}}) {
      std::string level = config->GetString({"defaults", mode}, "privileged");
      if (!ParseLevel(level, into->level)) {
        return invalid(StrCat(field, ".defaults.", mode),
                       StrCat("Invalid value: \"", level, "\": must be one of privileged, baseline, restricted"));
      }
      into->version = config->GetString({"defaults", StrCat(mode, "-version")}, "latest");
      if (!ValidVersion(into->version)) {
        return invalid(StrCat(field, ".defaults.", mode, "-version"),
                       StrCat("Invalid value: \"", into->version, "\": must be \"latest\" or \"v1.x\""));
      }
    }
    for (auto [key, into] : {std::pair{"usernames", &out.exempt_usernames}, std::pair{"runtimeClasses", &out.exempt_runtime_classes},
                             std::pair{"namespaces", &out.exempt_namespaces}}) {
      const json::Value* list = config->Get({"exemptions", key});
      if (list == nullptr) continue;
      if (!list->is_array()) return invalid(StrCat(field, ".exemptions.", key), "Invalid value: must be a list");
      for (const json::Value& v : list->as_array()) {
        if (!v.is_string() || v.as_string().empty()) {
          return invalid(StrCat(field, ".exemptions.", key), "Invalid value: entries must be non-empty strings");
        }
        into->push_back(v.as_string());
      }
    }
  }
  return out;
}

}  // namespace berth::apiserver::registry
