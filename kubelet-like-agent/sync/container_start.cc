// File: kubelet-like-agent/sync/container_start.cc
// The PodSync's container start: the image (pulled with the pod's pull secrets), the mounts,
// environment and security settings of the spec, the launch, and the postStart hook.
#include "kubelet-like-agent/sync/pod_sync.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/image/reference.h"
#include "core/resource/quantity.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/sync/image_process.h"
#include "kubelet-like-agent/sync/lifecycle_hooks.h"
#include "kubelet-like-agent/sync/pod_status.h"
#include "kubelet-like-agent/sync/security_context.h"
#include "kubelet-like-agent/sync/termination_message.h"


namespace berth::agent {

namespace fs = std::filesystem;

std::map<std::string, images::Credentials> PodSync::PullCredentials(const json::Value& pod) {
  std::map<std::string, images::Credentials> out;
  const json::Value* secrets = pod.Get({"spec", "imagePullSecrets"});
  if (secrets == nullptr || !secrets->is_array()) return out;
  std::vector<std::string> missing;
  for (const json::Value& ref : secrets->as_array()) {
    std::string name = ref.GetString({"name"});
    if (name.empty()) continue;
    auto data = volumes_.SourceData("secret", pod.GetString({"metadata", "namespace"}), name, false);
    if (!data.ok()) {
      missing.push_back(name);
      continue;
    }
    for (const char* key : {".dockerconfigjson", ".dockercfg"}) {
      auto it = data->find(key);
      if (it == data->end()) continue;
      auto parsed = images::ParseDockerConfigJson(it->second);
      if (!parsed.ok()) {
        missing.push_back(name);
        continue;
      }
      for (auto& [host, c] : *parsed) out.emplace(host, c);  // the first secret naming a host wins
    }
  }
  if (!missing.empty()) {
    Event(pod, "Warning", "FailedToRetrieveImagePullSecret",
          StrCat("Unable to retrieve some image pull secrets (", Join(missing, ", "),
                 "); attempting to pull the image may not succeed."));
  }
  return out;
}

absl::Status PodSync::StartContainer(const json::Value& pod, const json::Value& container, bool init,
                                     const std::map<std::string, std::string>& volumes, ContainerMemo& memo,
                                     const std::optional<network::PodSandbox>& sandbox) {
  (void)init;
  std::string uid = pod.GetString({"metadata", "uid"});
  std::string name = container.GetString({"name"});
  runtime::ContainerSpec spec;
  spec.id = ContainerId(uid, name);
  spec.pod_key = controllers::Informer::KeyOf(pod);
  spec.pod_uid = uid;
  spec.container_name = name;
  spec.hostname = network::PodHostname(pod);
  std::optional<images::ImageRecord> image;
  const std::string image_ref = container.GetString({"image"});
  if (image_ref != "host" && !options_.any_image) {
    if (options_.images == nullptr) {
      memo.waiting_reason = "ErrImageNeverPull";
      memo.waiting_message = StrCat("Container image \"", image_ref, "\" cannot be pulled: this agent has no image store");
      StartFailed(pod, memo, "ErrImageNeverPull");
      return absl::FailedPreconditionError(memo.waiting_message);
    }
    images::EnsureResult ensured = options_.images->Ensure(
        image_ref, container.GetString({"imagePullPolicy"}), uid, spec.id, PullCredentials(pod),
        [&](const char* type, const char* reason, const std::string& message) { Event(pod, type, reason, message); });
    if (!ensured.image) {
      memo.waiting_reason = ensured.reason;
      memo.waiting_message = ensured.message;
      memo.last_start_error = ensured.message;  // the image manager told it in its Events
      return absl::FailedPreconditionError(ensured.message);
    }
    image = std::move(ensured.image);
    spec.image_layers = options_.images->store().LowerDirs(*image);
    memo.image_id = image->id;
    for (const std::string& n : image->names) {
      if (n.find('@') != std::string::npos) {
        memo.image_id = n;
        break;
      }
    }
  }
  PodFields fields{pod.GetString({"spec", "nodeName"}), sandbox && !sandbox->ip.empty() ? sandbox->ip : options_.node_address,
                   options_.node_address};
  auto env = volumes_.Env(pod, container, fields);
  if (!env.ok()) {
    memo.waiting_reason = "CreateContainerConfigError";
    memo.waiting_message = std::string(env.status().message());
    StartFailed(pod, memo, "Failed");
    return env.status();
  }
  spec.env = *env;
  std::vector<std::string> service_env;
  if (options_.service_env) {
    const json::Value* links = pod.Get({"spec", "enableServiceLinks"});
    service_env = options_.service_env(pod.GetString({"metadata", "namespace"}), links == nullptr || !links->is_bool() || links->as_bool());
  }
  if (!options_.api_host.empty() && (HostNetwork(pod) || !options_.service_env)) {
    service_env = MergeEnv(service_env, {StrCat("KUBERNETES_SERVICE_HOST=", options_.api_host),
                                         StrCat("KUBERNETES_SERVICE_PORT=", options_.api_port)});
  }
  spec.env = MergeEnv(service_env, spec.env);
  std::map<std::string, std::string> env_map;
  for (const std::string& kv : spec.env) env_map[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  auto expanded = [&](const char* field) -> std::optional<std::vector<std::string>> {
    const json::Value* list = container.Find(field);
    if (list == nullptr || !list->is_array()) return std::nullopt;
    std::vector<std::string> out;
    for (const json::Value& a : list->as_array()) out.push_back(ExpandVars(a.is_string() ? a.as_string() : "", env_map));
    return out;
  };
  std::optional<std::vector<std::string>> command = expanded("command"), args = expanded("args");
  static const std::vector<std::string> kNone;
  spec.argv = ResolveArgv(command ? &*command : nullptr, args ? &*args : nullptr, image ? image->config.entrypoint : kNone,
                          image ? image->config.cmd : kNone);
  if (image) spec.env = MergeEnv(image->config.env, spec.env);
  if (spec.argv.empty()) {
    memo.waiting_reason = "CreateContainerError";
    memo.waiting_message = image ? StrCat("container ", name, ": no command specified (neither the container nor image \"",
                                          image_ref, "\" gives one)")
                                 : StrCat("container ", name, " has no command: image: host has no entrypoint");
    StartFailed(pod, memo, "Failed");
    return absl::InvalidArgumentError(memo.waiting_message);
  }
  spec.working_dir = container.GetString({"workingDir"});
  if (spec.working_dir.empty() && image) spec.working_dir = image->config.working_dir;
  // No process argument, variable or path can hold a NUL byte: say which one has it instead
  // of letting the launch fail without a cause.
  for (size_t i = 0; i < spec.argv.size(); ++i) {
    if (spec.argv[i].find('\0') != std::string::npos) {
      memo.waiting_reason = "CreateContainerError";
      memo.waiting_message = StrCat("argument ", i, " of the command (command followed by args) contains a NUL byte");
      StartFailed(pod, memo, "Failed");
      return absl::InvalidArgumentError(memo.waiting_message);
    }
  }
  for (const std::string& kv : spec.env) {
    if (kv.find('\0') != std::string::npos) {
      memo.waiting_reason = "CreateContainerConfigError";
      memo.waiting_message = StrCat("environment variable ", kv.substr(0, kv.find('=')), " contains a NUL byte");
      StartFailed(pod, memo, "Failed");
      return absl::InvalidArgumentError(memo.waiting_message);
    }
  }
  if (spec.working_dir.find('\0') != std::string::npos) {
    memo.waiting_reason = "CreateContainerError";
    memo.waiting_message = "workingDir contains a NUL byte";
    StartFailed(pod, memo, "Failed");
    return absl::InvalidArgumentError(memo.waiting_message);
  }
  if (const json::Value* mounts = container.Find("volumeMounts"); mounts && mounts->is_array()) {
    for (const json::Value& m : mounts->as_array()) {
      auto it = volumes.find(m.GetString({"name"}));
      if (it == volumes.end()) {
        memo.waiting_reason = "CreateContainerConfigError";
        memo.waiting_message = StrCat("volumeMount ", m.GetString({"name"}), " names no volume of the pod");
        StartFailed(pod, memo, "Failed");
        return absl::InvalidArgumentError(memo.waiting_message);
      }
      std::string source = it->second;
      // subPathExpr: $(VAR) from the container's environment, as the kubelet expands it.
      std::string sub = m.Find("subPathExpr") ? ExpandVars(m.GetString({"subPathExpr"}), env_map) : m.GetString({"subPath"});
      if (!sub.empty()) {
        if (sub[0] == '/' || sub == ".." || sub.rfind("../", 0) == 0 || sub.find("/../") != std::string::npos ||
            (sub.size() >= 3 && sub.compare(sub.size() - 3, 3, "/..") == 0)) {
          memo.waiting_reason = "CreateContainerConfigError";
          memo.waiting_message = StrCat("volumeMount ", m.GetString({"name"}), ": subPath \"", sub,
                                        "\" must be a relative path within the volume");
          StartFailed(pod, memo, "Failed");
          return absl::InvalidArgumentError(memo.waiting_message);
        }
        source += "/" + sub;
        // A missing subPath of a directory volume is created, as the kubelet does.
        std::error_code ec;
        if (fs::is_directory(it->second, ec) && !fs::exists(source, ec)) fs::create_directories(source, ec);
      }
      const json::Value* ro = m.Find("readOnly");
      spec.mounts.push_back({source, m.GetString({"mountPath"}), ro && ro->is_bool() && ro->as_bool()});
    }
  }
  const json::Value* sc = container.Find("securityContext");
  const json::Value* psc = pod.Get({"spec", "securityContext"});
  auto id_field = [&](const char* key) -> std::optional<uint32_t> {
    for (const json::Value* ctx : {sc, psc}) {
      if (ctx && ctx->Find(key) && ctx->Find(key)->is_int()) return static_cast<uint32_t>(ctx->Find(key)->as_int());
    }
    return std::nullopt;
  };
  spec.run_as_user = id_field("runAsUser");
  spec.run_as_group = id_field("runAsGroup");
  ImageUser image_user;
  if (image) image_user = ResolveImageUser(image->config.user, spec.image_layers);
  if (!spec.run_as_user) spec.run_as_user = image_user.uid;
  if (!spec.run_as_group && !id_field("runAsUser")) spec.run_as_group = image_user.gid;
  auto flag = [&](const char* key) {
    for (const json::Value* ctx : {sc, psc}) {
      if (ctx && ctx->Find(key) && ctx->Find(key)->is_bool()) return ctx->Find(key)->as_bool();
    }
    return false;
  };
  if (flag("runAsNonRoot")) {
    std::string who = StrCat("(pod: \"", PodFormat(pod), "\", container: ", name, ")");
    std::string refusal;
    if (id_field("runAsUser") && *id_field("runAsUser") == 0) {
      refusal = StrCat("container's runAsUser breaks non-root policy ", who);
    } else if (!id_field("runAsUser") && !image_user.unresolved_name.empty()) {
      refusal = StrCat("container has runAsNonRoot and image has non-numeric user (", image_user.unresolved_name,
                       "), cannot verify user is non-root ", who);
    } else if (!spec.run_as_user || *spec.run_as_user == 0) {
      refusal = StrCat("container has runAsNonRoot and image will run as root ", who);
    }
    if (!refusal.empty()) {
      memo.waiting_reason = "CreateContainerConfigError";
      memo.waiting_message = refusal;
      StartFailed(pod, memo, "Failed");
      return absl::FailedPreconditionError(refusal);
    }
  }
  spec.read_only_rootfs = flag("readOnlyRootFilesystem");
  auto security = ResolveSecurity(pod, container, options_.seccomp_default);
  if (!security.ok()) {
    memo.waiting_reason = "CreateContainerError";
    memo.waiting_message = std::string(security.status().message());
    StartFailed(pod, memo, "Failed");
    return security.status();
  }
  spec.privileged = security->privileged;
  spec.capabilities = security->capabilities;
  spec.no_new_privs = security->no_new_privs;
  spec.seccomp_default = security->seccomp_runtime_default;
  spec.supplemental_groups = security->supplemental_groups;
  // terminationMessagePath: a fresh host file per run, mounted there (not for a privileged
  // image: host container, whose /dev is the host's own).
  memo.message_file.clear();
  std::string message_path = container.GetString({"terminationMessagePath"}, "/dev/termination-log");
  if (!message_path.empty() && message_path[0] == '/' && !(spec.rootfs.empty() && spec.image_layers.empty() && spec.privileged) &&
      !options_.any_image) {
    int next_run = std::max(runtime_.Inspect(spec.id).ok() ? runtime_.Inspect(spec.id)->runs : 0, memo.previous_runs) + 1;
    std::string file = StrCat(volumes_.PodDir(uid), "/termination/", name, "-", next_run);
    std::error_code ec;
    fs::create_directories(fs::path(file).parent_path(), ec);
    if (FILE* f = std::fopen(file.c_str(), "we")) {
      std::fclose(f);
      memo.message_file = file;
      spec.mounts.push_back({file, message_path, false});
    }
  }
  spec.network_namespace = pod.GetString({"metadata", "annotations", "berth.dev/network"}) == "isolated";
  if (sandbox) {
    spec.netns_path = sandbox->netns_path;
    // The kubelet's managed files, unless the container mounts something there itself.
    for (const char* file : {"hosts", "resolv.conf"}) {
      std::string target = StrCat("/etc/", file);
      bool taken = std::any_of(spec.mounts.begin(), spec.mounts.end(), [&](const runtime::Mount& m) { return m.target == target; });
      if (!taken) spec.mounts.push_back({StrCat(volumes_.PodDir(uid), "/etc/", file), target, false});
    }
  }
  const json::Value* limits = container.Get({"resources", "limits"});
  const json::Value* requests = container.Get({"resources", "requests"});
  if (limits && limits->Find("cpu")) spec.cpu_limit_millis = resource::MilliOf(limits->Find("cpu"));
  if (requests && requests->Find("cpu")) spec.cpu_request_millis = resource::MilliOf(requests->Find("cpu"));
  else if (spec.cpu_limit_millis) spec.cpu_request_millis = spec.cpu_limit_millis;
  if (limits && limits->Find("memory")) spec.memory_limit_bytes = resource::MilliOf(limits->Find("memory")) / 1000;
  spec.pids_limit = options_.pod_pids_limit;
  auto previous = runtime_.Inspect(spec.id);
  spec.previous_runs = memo.previous_runs;
  int runs = std::max(previous.ok() ? previous->runs : 0, memo.previous_runs);
  spec.log_path = StrCat(volumes_.PodDir(uid), "/logs/", name, "/", runs, ".log");
  spec.stdin = container.Get({"stdin"}) != nullptr && container.Get({"stdin"})->is_bool() && container.Get({"stdin"})->as_bool();
  spec.spec_hash = SpecHash(container);
  if (image) options_.images->store().Touch(image->id, absl::ToUnixSeconds(clock_.Now()));
  absl::Status s = runtime_.Start(spec);
  if (!s.ok()) {
    memo.waiting_reason = "RunContainerError";
    memo.waiting_message = std::string(s.message());
    StartFailed(pod, memo, "Failed");
    return s;
  }
  memo.waiting_reason.clear();
  memo.waiting_message.clear();
  memo.last_start_error.clear();
  if (image_ref == "host" || options_.any_image) {
    Event(pod, "Normal", "Pulled", StrCat("Container image \"", image_ref, "\" already present on machine"));
  }
  Event(pod, "Normal", "Created", StrCat("Created container ", name));
  Event(pod, "Normal", "Started", StrCat("Started container ", name));
  // postStart runs once the container is up; if it fails the container is killed (and
  // restarted by the pod's policy), as the kubelet does.
  if (const json::Value* hook = container.Get({"lifecycle", "postStart"}); hook && hook->is_object()) {
    absl::Status hooked = RunLifecycleHandler(*hook, container, runtime_, spec.id, PodAddress(uid), clock_, GracePeriod(pod));
    if (!hooked.ok()) {
      Event(pod, "Warning", "FailedPostStartHook", HookFailureMessage(*hook, name, PodFormat(pod), hooked));
      Event(pod, "Normal", "Killing", StrCat("FailedPostStartHook: stopping container ", name));
      (void)runtime_.Stop(spec.id, GracePeriod(pod));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::agent
