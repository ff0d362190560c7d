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
namespace {

namespace fs = std::filesystem;
using runtime::ContainerStatus;
using runtime::State;

bool HostNetwork(const json::Value& pod) {
  const json::Value* h = pod.Get({"spec", "hostNetwork"});
  return h != nullptr && h->is_bool() && h->as_bool();
}

// Replaced whole (a container that starts while it is rewritten sees the old file or the new).
absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.flush()) return absl::UnavailableError(StrCat("writing ", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(StrCat("writing ", path, ": ", ec.message()));
  return absl::OkStatus();
}

std::string Now(const Clock& clock) { return FormatRfc3339(clock.Now()); }

absl::Duration GracePeriod(const json::Value& pod) {
  const json::Value* deletion = pod.Get({"metadata", "deletionGracePeriodSeconds"});
  const json::Value* spec = pod.Get({"spec", "terminationGracePeriodSeconds"});
  int64_t seconds = deletion && deletion->is_int() ? deletion->as_int() : spec && spec->is_int() ? spec->as_int() : 30;
  return absl::Seconds(std::max<int64_t>(0, seconds));
}

}  // namespace

PodSync::PodSync(client::ApiClient* api, controllers::Informer& pods, runtime::Runtime& runtime, VolumeManager& volumes,
                 StatusManager& status, PodSyncOptions options, const Clock& clock)
    : api_(api), pods_(pods), runtime_(runtime), volumes_(volumes), status_(status), options_(std::move(options)),
      clock_(clock), controller_("agent-pod-sync", *this, clock, options_.workers) {
  auto enqueue = [this](const controllers::ObjectPtr& o) {
    if (options_.node_names.count(o->GetString({"spec", "nodeName"}))) controller_.Enqueue(controllers::Informer::KeyOf(*o));
  };
  auto update = [enqueue](const controllers::ObjectPtr& before, const controllers::ObjectPtr& after) {
    if (before == nullptr || NeedsSync(*before, *after)) enqueue(after);
  };
  pods_.AddHandlers({enqueue, update, enqueue});
  runtime_.SetExitCallback([this](const ContainerStatus& s) {
    if (!s.pod_key.empty()) controller_.Enqueue(s.pod_key);
  });
}

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

std::vector<absl::Time> PodSync::RunProbes(const json::Value& pod, const json::Value& c, const ContainerStatus& running,
                                           ContainerMemo& cm) {
  const ContainerStatus* st = &running;
  const std::string id = running.id;
  const std::string name = c.GetString({"name"});
  const std::string key = controllers::Informer::KeyOf(pod);
  const absl::Time now_time = clock_.Now();
  if (cm.probed_pid != st->pid) {
    cm.probed_pid = st->pid;
    // A probe without a handler Berth can run counts as absent: failing it would kill a
    // healthy container in a loop.
    auto runnable = [&](const char* probe) { return c.Find(probe) && HasRunnableHandler(*c.Find(probe)); };
    cm.startup = runnable("startupProbe") ? ProbeState(*c.Find("startupProbe"), st->started_at, false) : ProbeState();
    cm.liveness = runnable("livenessProbe") ? ProbeState(*c.Find("livenessProbe"), st->started_at, true) : ProbeState();
    cm.readiness = runnable("readinessProbe") ? ProbeState(*c.Find("readinessProbe"), st->started_at, false) : ProbeState();
  }
  bool started = !cm.startup.configured() || cm.startup.ok();
  bool kill = false;
  std::string why;
  if (!started && cm.startup.Due(now_time)) {
    bool ok = RunProbe(cm.startup.probe(), c, runtime_, id, PodAddress(pod.GetString({"metadata", "uid"})), clock_, &cm.startup.last_detail);
    if (!ok) Event(pod, "Warning", "Unhealthy", "Startup probe failed: " + cm.startup.last_detail);
    cm.startup.Record(ok, now_time);
    if (cm.startup.failed()) {
      kill = true;
      why = "Startup probe failed: " + cm.startup.last_detail;
    }
    started = cm.startup.ok();
  }
  if (started && cm.liveness.configured() && cm.liveness.Due(clock_.Now())) {
    bool ok = RunProbe(cm.liveness.probe(), c, runtime_, id, PodAddress(pod.GetString({"metadata", "uid"})), clock_, &cm.liveness.last_detail);
    if (!ok) Event(pod, "Warning", "Unhealthy", "Liveness probe failed: " + cm.liveness.last_detail);
    cm.liveness.Record(ok, clock_.Now());
    if (!cm.liveness.ok()) {
      kill = true;
      why = "Liveness probe failed: " + cm.liveness.last_detail;
    }
  }
  if (started && cm.readiness.configured() && cm.readiness.Due(clock_.Now())) {
    bool ok = RunProbe(cm.readiness.probe(), c, runtime_, id, PodAddress(pod.GetString({"metadata", "uid"})), clock_, &cm.readiness.last_detail);
    if (!ok) Event(pod, "Warning", "Unhealthy", "Readiness probe failed: " + cm.readiness.last_detail);
    cm.readiness.Record(ok, clock_.Now());
  }
  if (kill) {
    BERTH_LOG(Info, "agent.sync", "Killing a container that failed its liveness probe", "pod", key, "container",
              name, "detail", why);
    Event(pod, "Normal", "Killing", StrCat("Container ", name, " failed ",
                                           cm.startup.failed() ? "startup" : "liveness", " probe, will be restarted"));
    (void)runtime_.Stop(id, absl::Seconds(IntOr(pod.Get({"spec", "terminationGracePeriodSeconds"}), 30)));
  }
  std::vector<absl::Time> wakes;
  for (const ProbeState* p : {&cm.startup, &cm.liveness, &cm.readiness}) {
    if (p->configured()) wakes.push_back(p->next());
  }
  return wakes;
}

std::string PodSync::PodAddress(const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pod_ips_.find(uid);
  return it == pod_ips_.end() ? options_.node_address : it->second;
}

bool PodSync::EnsureSandbox(const json::Value& pod, PodMemo& memo) {
  if (options_.network == nullptr && !memo.told_fields_not_applied) {
    memo.told_fields_not_applied = true;
    std::vector<std::string> fields = network::FieldsOnlyThePodNetworkApplies(pod);
    if (!fields.empty()) {
      Event(pod, "Warning", "PodNetworkFieldsNotApplied",
            StrCat(absl::StrJoin(fields, " and "), " not applied: node ", pod.GetString({"spec", "nodeName"}),
                   " runs pods on its own network (its agent has no --pod-network=bridge)"));
    }
  }
  if (options_.network == nullptr || HostNetwork(pod) || memo.sandbox) return true;
  const std::string uid = pod.GetString({"metadata", "uid"});
  bool isolated = pod.GetString({"metadata", "annotations", "berth.dev/network"}) == "isolated";
  std::vector<network::HostPort> host_ports;
  for (const char* field : {"initContainers", "containers"}) {
    for (const json::Value& c : Containers(pod, field)) {
      const json::Value* ports = c.Find("ports");
      if (ports == nullptr || !ports->is_array()) continue;
      for (const json::Value& p : ports->as_array()) {
        int64_t host_port = IntOr(p.Find("hostPort"), 0);
        if (host_port <= 0) continue;
        std::string protocol = absl::AsciiStrToLower(p.GetString({"protocol"}, "TCP"));
        host_ports.push_back({protocol, static_cast<int>(host_port), static_cast<int>(IntOr(p.Find("containerPort"), 0))});
      }
    }
  }
  auto sandbox = options_.network->SetUp(uid, isolated, host_ports);
  absl::Status files = sandbox.status();
  if (sandbox.ok()) {
    // The kubelet's files, written before any container mounts them.
    std::error_code ec;
    std::string etc = StrCat(volumes_.PodDir(uid), "/etc");
    fs::create_directories(etc, ec);
    auto resolv = network::PodResolvConf(pod, options_.dns, false);
    files = resolv.status();
    if (files.ok()) files = WriteFileAtomically(etc + "/resolv.conf", *resolv);
    if (files.ok()) files = WriteFileAtomically(etc + "/hosts", network::PodHostsFile(pod, sandbox->ip, options_.dns.cluster_domain));
  }
  if (!files.ok()) {
    std::string message = StrCat("Failed to create pod sandbox: ", files.message());
    if (message != memo.network_error) Event(pod, "Warning", "FailedCreatePodSandBox", message);
    memo.network_error = message;
    return false;
  }
  memo.network_error.clear();
  memo.sandbox = *sandbox;
  std::lock_guard<std::mutex> lock(mu_);
  if (!sandbox->ip.empty()) pod_ips_[uid] = sandbox->ip;
  return true;
}

void PodSync::TearDownSandbox(const std::string& uid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pod_ips_.erase(uid);
  }
  if (options_.network == nullptr) return;
  absl::Status s = options_.network->TearDown(uid);
  if (!s.ok()) BERTH_LOG(Warning, "agent.network", "Pod network teardown incomplete", "uid", uid, "error", s.ToString());
}

void PodSync::ReleaseImage(const std::string& container_id) {
  if (options_.images != nullptr) options_.images->store().Release(container_id);
}

void PodSync::Event(const json::Value& pod, const char* type, const char* reason, const std::string& message) {
  if (events_ != nullptr) events_->Record(pod, type, reason, message);
}

void PodSync::StartFailed(const json::Value& pod, ContainerMemo& memo, const char* reason) {
  // Retried every few seconds: tell each distinct cause once (the recorder would count repeats,
  // but each repeat is still a request).
  if (memo.waiting_message == memo.last_start_error) return;
  memo.last_start_error = memo.waiting_message;
  Event(pod, "Warning", reason, StrCat("Error: ", memo.waiting_message));
}

bool PodSync::RecoverLostRun(const json::Value& container, const std::string& restart_policy, const std::string& now,
                             ContainerMemo& memo) {
  if (memo.reported.is_null()) return memo.lost.is_null();  // decided on an earlier pass
  std::optional<LostRun> lost = FindLostRun(memo.reported, now);
  memo.reported = json::Value();  // accounted for once
  if (!lost) return true;         // nothing ran: start it
  memo.previous_runs = lost->runs;
  if (RestartAllowed(restart_policy, IntOr(lost->terminated.Find("exitCode"), 0))) {
    BERTH_LOG(Info, "agent.sync", "Restarting a container whose run was lost", "container", container.GetString({"name"}),
              "runs", lost->runs);
    memo.last_termination = lost->terminated;
    memo.lost = json::Value();
    return true;
  }
  memo.lost = lost->terminated;
  memo.lost_restarts = lost->runs - 1;
  return false;
}

void PodSync::ReportExit(const json::Value& pod, const json::Value& container, const ContainerStatus& s,
                         ContainerMemo& memo) {
  if (memo.exit_reported_run == s.runs) return;
  memo.exit_reported_run = s.runs;
  memo.termination_message = TerminationMessage(container, memo.message_file, s);
  memo.message_run = s.runs;
  std::string name = container.GetString({"name"});
  if (s.reason == "OOMKilled") {
    std::string limit = container.GetString({"resources", "limits", "memory"});
    Event(pod, "Warning", "OOMKilling",
          StrCat("Container ", name, " was killed by the kernel's OOM killer",
                 limit.empty() ? std::string() : StrCat(": it reached its memory limit of ", limit)));
  } else if (s.reason == "StartError") {
    Event(pod, "Warning", "Failed", StrCat("Error: ", s.message));
  }
}

absl::StatusOr<controllers::Result> PodSync::Reconcile(const controllers::Request& request, std::stop_token) {
  const std::string key = request.Key();
  controllers::ObjectPtr cached = pods_.Get(key);
  if (cached == nullptr || !options_.node_names.count(cached->GetString({"spec", "nodeName"}))) {
    RemovePodContainers(key, "");
    std::lock_guard<std::mutex> lock(mu_);
    memos_.erase(key);
    return controllers::Result{};
  }
  const json::Value& pod = *cached;
  const std::string uid = pod.GetString({"metadata", "uid"});
  PodMemo* memo_ptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    memo_ptr = &memos_[key];
  }
  PodMemo& memo = *memo_ptr;
  if (memo.uid != uid) {
    // A new pod under an old name: what the old one left goes first.
    RemovePodContainers(key, uid);
    memo = PodMemo{};
    memo.uid = uid;
    memo.start_time = pod.GetString({"status", "startTime"});
    for (const char* field : {"initContainerStatuses", "containerStatuses"}) {
      const json::Value* statuses = pod.Get({"status", field});
      if (statuses == nullptr || !statuses->is_array()) continue;
      for (const json::Value& cs : statuses->as_array()) {
        ContainerMemo& cm = memo.containers[cs.GetString({"name"})];
        if (const json::Value* last = cs.Get({"lastState", "terminated"})) cm.last_termination = *last;
        cm.reported = cs;
        if (const json::Value* ended = cs.Get({"state", "terminated"})) {
          cm.lost = *ended;  // shown only while the runtime has no record of the container
          cm.lost_restarts = static_cast<int>(IntOr(cs.Find("restartCount"), 0));
        }
      }
    }
  }
  if (pod.Get({"metadata", "deletionTimestamp"})) return Terminate(pod, memo);

  const std::string now = Now(clock_);
  const absl::Time now_time = clock_.Now();
  if (memo.start_time.empty()) memo.start_time = now;
  std::string restart_policy = pod.GetString({"spec", "restartPolicy"}, "Always");
  absl::Time next_wake = now_time + options_.resync;
  auto wake_at = [&](absl::Time t) {
    if (t > now_time) next_wake = std::min(next_wake, t);
  };

  // activeDeadlineSeconds: the pod fails once it has been active that long.
  if (const json::Value* deadline = pod.Get({"spec", "activeDeadlineSeconds"}); deadline && deadline->is_int()) {
    absl::Time started = ParseRfc3339(memo.start_time, now_time);
    absl::Time end = started + absl::Seconds(deadline->as_int());
    if (now_time >= end) memo.deadline_exceeded = true;
    else wake_at(end);
  }
  std::string terminal_phase = pod.GetString({"status", "phase"});
  bool terminal = memo.deadline_exceeded || terminal_phase == "Succeeded" || terminal_phase == "Failed";
  if (memo.deadline_exceeded) {
    for (const char* field : {"initContainers", "containers"}) {
      for (const json::Value& c : Containers(pod, field)) {
        (void)runtime_.Stop(ContainerId(uid, c.GetString({"name"})),
                            absl::Seconds(IntOr(pod.Get({"spec", "terminationGracePeriodSeconds"}), 30)));
      }
    }
  }

  std::map<std::string, std::string> volume_paths;
  std::string volume_error;
  if (!terminal) {
    auto prepared = volumes_.Prepare(pod);
    if (prepared.ok()) {
      volume_paths = *std::move(prepared);
      memo.volume_error.clear();
    } else {
      volume_error = std::string(prepared.status().message());
      if (volume_error != memo.volume_error) Event(pod, "Warning", "FailedMount", StrCat("MountVolume.SetUp failed: ", volume_error));
      memo.volume_error = volume_error;
    }
  }

  // What keeps containers from starting: volumes that failed, or the pod's network.
  std::string blocked_reason, blocked_message;
  if (!volume_error.empty()) {
    blocked_reason = "CreateContainerConfigError";
    blocked_message = volume_error;
  } else if (!terminal && !EnsureSandbox(pod, memo)) {
    blocked_reason = "ContainerCreating";
    blocked_message = memo.network_error;
    wake_at(now_time + absl::Seconds(2));
  }

  auto restart_allowed = [&](const ContainerStatus& s) { return RestartAllowed(restart_policy, s.exit_code); };
  // After a reboot-like loss, a lost run that the policy does not restart ends the pod: nothing
  // starts again, init containers included (they ran before the loss).
  bool hold = false;
  if (!terminal) {
    for (const json::Value& c : Containers(pod, "containers")) {
      if (runtime_.Inspect(ContainerId(uid, c.GetString({"name"}))).ok()) continue;
      if (!RecoverLostRun(c, restart_policy, now, memo.containers[c.GetString({"name"})])) hold = true;
    }
  }
  // Decides whether an ended container starts again now; sets CrashLoopBackOff otherwise.
  auto maybe_restart = [&](const json::Value& container, const ContainerStatus& s, ContainerMemo& cm, bool init) {
    int restarts = s.runs - 1 - cm.backoff_base_runs;
    if (s.finished_at - s.started_at >= options_.backoff_reset) {
      cm.backoff_base_runs = s.runs - 1;
      restarts = 0;
    }
    absl::Duration delay = CrashLoopDelay(restarts, options_.initial_backoff, options_.max_backoff);
    absl::Time at = s.finished_at + delay;
    if (now_time < at) {
      cm.waiting_reason = "CrashLoopBackOff";
      cm.waiting_message = StrCat("back-off ", absl::FormatDuration(delay), " restarting failed container=",
                                  container.GetString({"name"}), " pod=", pod.GetString({"metadata", "name"}), "_",
                                  pod.GetString({"metadata", "namespace"}), "(", uid, ")");
      Event(pod, "Warning", "BackOff", StrCat("Back-off restarting failed container ", container.GetString({"name"}),
                                               " in pod ", pod.GetString({"metadata", "name"}), "_",
                                               pod.GetString({"metadata", "namespace"}), "(", uid, ")"));
      wake_at(at);
      return;
    }
    cm.last_termination = TerminatedJson(s, s.id, cm.message_run == s.runs ? cm.termination_message : "");
    cm.probed_pid = 0;
    (void)StartContainer(pod, container, init, volume_paths, cm, memo.sandbox);
  };

  // Init containers, in order: each must succeed before the next starts. A native sidecar
  // (restartPolicy: Always) only has to be running: it keeps running beside the main
  // containers, is restarted whenever it exits, and stops after them.
  bool initialized = true;
  bool init_failed = false;
  bool sidecars_ready = true;
  json::Value init_statuses = json::Value::MakeArray();
  std::vector<std::string> sidecar_ids;
  for (const json::Value& c : Containers(pod, "initContainers")) {
    std::string name = c.GetString({"name"});
    ContainerMemo& cm = memo.containers[name];
    std::string id = ContainerId(uid, name);
    const bool sidecar = IsSidecar(c);
    if (sidecar) sidecar_ids.push_back(id);
    if (sidecar && terminal) {
      // The main containers are done: the pod's sidecars stop (the pod completes with them).
      if (auto st = runtime_.Inspect(id); st.ok() && st->state == State::kRunning) (void)runtime_.Stop(id, GracePeriod(pod));
    } else if (!terminal && (initialized || (sidecar && runtime_.Inspect(id).ok())) && !init_failed && !hold) {
      auto st = runtime_.Inspect(id);
      if (!blocked_reason.empty() && (!st.ok() || st->state != State::kRunning)) {
        cm.waiting_reason = blocked_reason;
        cm.waiting_message = blocked_message;
      } else if (!st.ok()) {
        (void)StartContainer(pod, c, true, volume_paths, cm, memo.sandbox);
      } else if (sidecar && st->state == State::kExited) {
        ReportExit(pod, c, *st, cm);
        maybe_restart(c, *st, cm, true);  // always, whatever the pod's restartPolicy
      } else if (sidecar && st->state == State::kRunning) {
        for (absl::Time t : RunProbes(pod, c, *st, cm)) wake_at(t);
      } else if (st->state == State::kExited && st->exit_code != 0) {
        ReportExit(pod, c, *st, cm);
        if (restart_policy == "Never") init_failed = true;
        else maybe_restart(c, *st, cm, true);
      }
      st = runtime_.Inspect(id);
      if (sidecar) {
        // The next init container waits for the sidecar to have started (its startup probe).
        bool started = st.ok() && st->state == State::kRunning && (!cm.startup.configured() || cm.startup.ok());
        if (!started) initialized = false;
      } else if (!st.ok() || st->state != State::kExited || st->exit_code != 0) {
        initialized = false;
      }
    } else if (!hold) {
      initialized = false;
    }
    bool running, ready, term;
    int code;
    auto st = runtime_.Inspect(id);
    json::Value cs = ContainerStatusJson(c, id, st, cm, &running, &ready, &term, &code);
    if (sidecar) sidecars_ready = sidecars_ready && ready;  // its readiness probe, if any
    init_statuses.as_array().push_back(std::move(cs));
  }

  json::Value statuses = json::Value::MakeArray();
  int n_running = 0, n_ready = 0, n_terminated = 0, n_failed = 0, n_waiting = 0;
  const auto& main_containers = Containers(pod, "containers");
  for (const json::Value& c : main_containers) {
    std::string name = c.GetString({"name"});
    ContainerMemo& cm = memo.containers[name];
    std::string id = ContainerId(uid, name);
    if (initialized && !terminal && !init_failed) {
      auto st = runtime_.Inspect(id);
      if (!blocked_reason.empty() && (!st.ok() || st->state != State::kRunning)) {
        cm.waiting_reason = blocked_reason;
        cm.waiting_message = blocked_message;
        wake_at(now_time + absl::Seconds(2));
      } else if (!st.ok()) {
        // Lost runs were accounted for above: what has no record now starts, unless the pod is held.
        if (!hold && !StartContainer(pod, c, false, volume_paths, cm, memo.sandbox).ok()) wake_at(now_time + absl::Seconds(2));
      } else if (st->state == State::kRunning) {
        if (st->spec_hash != SpecHash(c)) {
          // The container's spec changed (a new image): replace it, as the kubelet does.
          (void)runtime_.Stop(id, absl::Seconds(IntOr(pod.Get({"spec", "terminationGracePeriodSeconds"}), 30)));
        } else {
          for (absl::Time t : RunProbes(pod, c, *st, cm)) wake_at(t);
        }
      }
      st = runtime_.Inspect(id);
      if (st.ok() && st->state == State::kExited) {
        ReportExit(pod, c, *st, cm);
        if (restart_allowed(*st)) maybe_restart(c, *st, cm, false);
        else cm.waiting_reason.clear();
      }
    }
    bool running, ready, term;
    int code;
    statuses.as_array().push_back(ContainerStatusJson(c, id, runtime_.Inspect(id), cm, &running, &ready, &term, &code));
    n_running += running;
    n_ready += ready;
    n_terminated += term;
    n_failed += term && code != 0;
    n_waiting += !running && !term;
  }

  std::string reason, message;
  int n = static_cast<int>(main_containers.size());
  if (memo.deadline_exceeded) {
    reason = "DeadlineExceeded";
    message = "Pod was active on the node longer than the specified deadline";
  }
  std::string phase = PodPhase({.deadline_exceeded = memo.deadline_exceeded, .init_failed = init_failed,
                                .terminal = terminal, .terminal_phase = terminal_phase, .initialized = initialized,
                                .restart_policy = restart_policy, .containers = n, .running = n_running,
                                .waiting = n_waiting, .terminated = n_terminated, .failed = n_failed});
  bool containers_ready = n > 0 && n_ready == n && sidecars_ready;
  json::Value status = json::Value::MakeObject();
  status.Set("phase", phase);
  json::Value conditions = json::Value::MakeArray();
  conditions.as_array().push_back(PodCondition(pod, "PodReadyToStartContainers", true, "", now));
  conditions.as_array().push_back(PodCondition(pod, "Initialized", initialized || Containers(pod, "initContainers").empty(),
                                            "ContainersNotInitialized", now));
  conditions.as_array().push_back(PodCondition(pod, "Ready", containers_ready && phase == "Running", "ContainersNotReady", now));
  conditions.as_array().push_back(PodCondition(pod, "ContainersReady", containers_ready && phase == "Running", "ContainersNotReady", now));
  conditions.as_array().push_back(PodCondition(pod, "PodScheduled", true, "", now));
  status.Set("conditions", std::move(conditions));
  status.Set("hostIP", options_.node_address);
  status.Set("hostIPs", json::Value(json::Array{Obj({{"ip", options_.node_address}})}));
  // A pod on the pod network has its own address; until it has one, none is reported.
  std::string pod_ip = options_.node_address;
  if (options_.network != nullptr && !HostNetwork(pod)) {
    std::optional<network::PodSandbox> sandbox = memo.sandbox;
    if (!sandbox) sandbox = options_.network->Find(uid);  // kept from an earlier run of the agent
    pod_ip = sandbox ? sandbox->ip : "";
  }
  if (!pod_ip.empty()) {
    status.Set("podIP", pod_ip);
    status.Set("podIPs", json::Value(json::Array{Obj({{"ip", pod_ip}})}));
  }
  status.Set("startTime", memo.start_time);
  status.Set("reason", reason.empty() ? json::Value() : json::Value(reason));
  status.Set("message", message.empty() ? json::Value() : json::Value(message));
  if (init_statuses.size() > 0) status.Set("initContainerStatuses", std::move(init_statuses));
  status.Set("containerStatuses", std::move(statuses));
  status_.Set(pod.GetString({"metadata", "namespace"}), pod.GetString({"metadata", "name"}), uid, std::move(status));
  if (phase == "Succeeded" || phase == "Failed") return controllers::Result{};
  return controllers::Result{std::max(absl::Milliseconds(10), next_wake - clock_.Now())};
}

}  // namespace berth::agent
