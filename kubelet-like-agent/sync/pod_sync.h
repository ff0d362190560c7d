#pragma once
// File: kubelet-like-agent/sync/pod_sync.h
// The agent's sync loop: a Reconciler over the pods bound to this node (the SDK's Controller
// gives one worker per pod at a time). Each pass converges desired (the pod) and actual (the
// Runtime): init containers in order, then the containers; restarts by restartPolicy with
// CrashLoopBackOff (10 s doubling to 5 min, reset after 10 min of running); probes; graceful
// stops; the pod object removed once a deleted pod's processes are gone; activeDeadlineSeconds.
// It then reports the status it observed through the StatusManager.

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "controllers/runtime/controller.h"
#include "controllers/runtime/event_recorder.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"
#include "kubelet-like-agent/images/image_manager.h"
#include "kubelet-like-agent/network/pod_dns_files.h"
#include "kubelet-like-agent/network/pod_network.h"
#include "kubelet-like-agent/probes/prober.h"
#include "kubelet-like-agent/sync/pod_decisions.h"
#include "kubelet-like-agent/sync/pod_memo.h"
#include "kubelet-like-agent/runtime/runtime.h"
#include "kubelet-like-agent/status/status_manager.h"
#include "kubelet-like-agent/volumes/volume_manager.h"

namespace berth::agent {

struct PodSyncOptions {
  std::set<std::string> node_names;  // one, or many hollow nodes in one process
  std::string node_address = "127.0.0.1";
  std::string pods_dir;    // sandboxes: <pods_dir>/<uid>/{volumes,logs}
  images::ImageManager* images = nullptr;  // pulls and the store; null: only image: host runs
  bool any_image = false;  // hollow nodes: every image "exists"
  bool seccomp_default = false;  // RuntimeDefault unless a pod says Unconfined (the kubelet's --seccomp-default)
  int64_t pod_pids_limit = 4096;
  // The pod network (--pod-network=bridge): a namespace and address per pod, resolv.conf and
  // hosts files. Null: pods share the node's network (or a loopback-only one when isolated).
  network::PodNetwork* network = nullptr;
  network::DnsSettings dns;
  // The Service variables of a container's environment (namespace, enableServiceLinks); unset:
  // none (pods on the host network have no Service routing either).
  std::function<std::vector<std::string>(const std::string&, bool)> service_env;
  // Where pods on the host's network reach the API (the agent's own --server): their
  // KUBERNETES_SERVICE_HOST/PORT, since the `kubernetes` Service's ClusterIP is programmed for
  // pod network namespaces only. Empty: the Service's values alone.
  std::string api_host;
  int api_port = 0;
  int workers = 4;
  absl::Duration max_backoff = absl::Minutes(5);
  absl::Duration initial_backoff = absl::Seconds(10);
  absl::Duration backoff_reset = absl::Minutes(10);
  absl::Duration resync = absl::Seconds(10);  // configMap/secret refresh, status drift
};

class PodSync final : public controllers::Reconciler {
 public:
  PodSync(client::ApiClient* api, controllers::Informer& pods, runtime::Runtime& runtime, VolumeManager& volumes,
          StatusManager& status, PodSyncOptions options, const Clock& clock = RealClock::Get());
  absl::StatusOr<controllers::Result> Reconcile(const controllers::Request& request, std::stop_token stop) override;
  controllers::Controller& controller() { return controller_; }
  // Pods known to the runtime from an earlier agent run that are gone from the API: stopped and
  // removed. Call once after the pod informer synced.
  void CleanUpOrphans();
  // Stops every running container concurrently, each within its pod's grace period
  // (`default_grace` for pods no longer in the cache). Stop the controller first, or the sync
  // loop restarts what this stops.
  void StopAll(absl::Duration default_grace);
  // Where the kubelet's Events go (Pulled, Created, Started, Failed, Killing, Unhealthy,
  // BackOff, FailedMount, OOMKilling), so `kubectl describe pod` tells the story. Optional; before
  // the controller starts.
  void SetEventRecorder(controllers::EventRecorder* events) { events_ = events; }

 private:
  absl::StatusOr<controllers::Result> Terminate(const json::Value& pod, PodMemo& memo);
  void RemovePodContainers(const std::string& key, const std::string& keep_uid);
  absl::Status StartContainer(const json::Value& pod, const json::Value& container, bool init,
                              const std::map<std::string, std::string>& volumes, ContainerMemo& memo,
                              const std::optional<network::PodSandbox>& sandbox);
  // Accounts for a run the runtime lost: restarts per policy (true) or keeps it as the
  // container's final terminated state (false).
  bool RecoverLostRun(const json::Value& container, const std::string& restart_policy, const std::string& now,
                      ContainerMemo& memo);
  // The registry credentials of the pod's imagePullSecrets, by registry host (a Warning
  // Event names the secrets that could not be read).
  std::map<std::string, images::Credentials> PullCredentials(const json::Value& pod);
  // One pass of a running container's startup, liveness and readiness probes (those due): a
  // failed liveness or startup probe stops it. When the probes are next due.
  std::vector<absl::Time> RunProbes(const json::Value& pod, const json::Value& container,
                                    const runtime::ContainerStatus& running, ContainerMemo& cm);
  // The container is gone: its image may be removed again.
  void ReleaseImage(const std::string& container_id);
  // The pod's network namespace, address and /etc files, made once per pod (hostNetwork: none).
  // False while it cannot be made (the error is in memo.network_error).
  bool EnsureSandbox(const json::Value& pod, PodMemo& memo);
  void TearDownSandbox(const std::string& uid);
  // Where probes and hooks dial: the pod's own address, or the node's.
  std::string PodAddress(const std::string& uid);
  // The end of a run that users need told (OOM kill, start error), once per run.
  void ReportExit(const json::Value& pod, const json::Value& container, const runtime::ContainerStatus& s,
                  ContainerMemo& memo);
  void Event(const json::Value& pod, const char* type, const char* reason, const std::string& message);
  // A start that failed: the waiting reason and message as a Warning, once per distinct message.
  void StartFailed(const json::Value& pod, ContainerMemo& memo, const char* reason);

  client::ApiClient* api_;
  controllers::Informer& pods_;
  runtime::Runtime& runtime_;
  VolumeManager& volumes_;
  StatusManager& status_;
  const PodSyncOptions options_;
  const Clock& clock_;
  controllers::EventRecorder* events_ = nullptr;
  std::mutex mu_;
  std::map<std::string, PodMemo> memos_;  // by pod key
  std::map<std::string, std::string> pod_ips_;  // by pod uid
  controllers::Controller controller_;
};

}  // namespace berth::agent
