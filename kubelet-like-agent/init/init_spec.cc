#include "kubelet-like-agent/init/init_spec.h"

#include <cstdlib>

namespace berth::agent {
namespace {

void Put(std::string& out, const char* key, const std::string& value) {
  out.append(key).push_back('\0');
  out.append(value).push_back('\0');
}

}  // namespace

std::string SerializeInitSpec(const InitSpec& s) {
  std::string out;
  for (const std::string& a : s.argv) Put(out, "argv", a);
  for (const std::string& e : s.env) Put(out, "env", e);
  for (const InitMount& m : s.mounts) {
    Put(out, "mount.source", m.source);
    Put(out, "mount.target", m.target);
    Put(out, "mount.readOnly", m.read_only ? "1" : "0");
  }
  Put(out, "workingDir", s.working_dir);
  Put(out, "hostname", s.hostname);
  Put(out, "rootfs", s.rootfs);
  if (!s.overlay_lower.empty()) {
    Put(out, "overlay.lower", s.overlay_lower);
    Put(out, "overlay.upper", s.overlay_upper);
    Put(out, "overlay.work", s.overlay_work);
  }
  if (s.read_only_rootfs) Put(out, "readOnlyRootfs", "1");
  if (s.privileged) Put(out, "privileged", "1");
  for (int cap : s.capabilities) Put(out, "cap", std::to_string(cap));
  if (s.no_new_privs) Put(out, "noNewPrivs", "1");
  if (s.seccomp_default) Put(out, "seccompDefault", "1");
  if (s.host_root) Put(out, "hostRoot", "1");
  for (uint32_t g : s.supplemental_groups) Put(out, "group", std::to_string(g));
  Put(out, "logPath", s.log_path);
  if (!s.stdin_path.empty()) Put(out, "stdinPath", s.stdin_path);
  Put(out, "networkNamespace", s.network_namespace ? "1" : "0");
  Put(out, "netnsPath", s.netns_path);
  Put(out, "logMaxBytes", std::to_string(s.log_max_bytes));
  Put(out, "run", std::to_string(s.run));
  if (s.run_as_user) Put(out, "runAsUser", std::to_string(*s.run_as_user));
  if (s.run_as_group) Put(out, "runAsGroup", std::to_string(*s.run_as_group));
  return out;
}

bool ParseInitSpec(const std::string& data, InitSpec& s) {
  size_t pos = 0;
  auto next = [&](std::string& out) {
    size_t end = data.find('\0', pos);
    if (end == std::string::npos) return false;
    out.assign(data, pos, end - pos);
    pos = end + 1;
    return true;
  };
  std::string key, value;
  while (pos < data.size()) {
    if (!next(key) || !next(value)) return false;
    if (key == "argv") s.argv.push_back(value);
    else if (key == "env") s.env.push_back(value);
    else if (key == "mount.source") s.mounts.push_back({value, "", false});
    else if (key == "mount.target" && !s.mounts.empty()) s.mounts.back().target = value;
    else if (key == "mount.readOnly" && !s.mounts.empty()) s.mounts.back().read_only = value == "1";
    else if (key == "workingDir") s.working_dir = value;
    else if (key == "hostname") s.hostname = value;
    else if (key == "rootfs") s.rootfs = value;
    else if (key == "logPath") s.log_path = value;
    else if (key == "overlay.lower") s.overlay_lower = value;
    else if (key == "overlay.upper") s.overlay_upper = value;
    else if (key == "overlay.work") s.overlay_work = value;
    else if (key == "readOnlyRootfs") s.read_only_rootfs = value == "1";
    else if (key == "privileged") s.privileged = value == "1";
    else if (key == "cap") s.capabilities.push_back(static_cast<int>(std::strtol(value.c_str(), nullptr, 10)));
    else if (key == "noNewPrivs") s.no_new_privs = value == "1";
    else if (key == "seccompDefault") s.seccomp_default = value == "1";
    else if (key == "hostRoot") s.host_root = value == "1";
    else if (key == "group") s.supplemental_groups.push_back(static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10)));
    else if (key == "stdinPath") s.stdin_path = value;
    else if (key == "networkNamespace") s.network_namespace = value == "1";
    else if (key == "netnsPath") s.netns_path = value;
    else if (key == "logMaxBytes") s.log_max_bytes = std::strtoll(value.c_str(), nullptr, 10);
    else if (key == "run") s.run = std::strtoll(value.c_str(), nullptr, 10);
    else if (key == "runAsUser") s.run_as_user = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    else if (key == "runAsGroup") s.run_as_group = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    else return false;
  }
  return true;
}

}  // namespace berth::agent
