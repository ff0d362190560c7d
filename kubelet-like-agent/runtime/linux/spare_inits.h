#pragma once
// File: kubelet-like-agent/runtime/linux/spare_inits.h
// A few container inits made ahead of need: each cloned into its own PID, UTS and IPC
// namespaces and its own cgroup ("berth-spare-<slot>"), waiting at its gate. A start takes one,
// renames its cgroup to the container's and releases it, so the clone, the init's exec and
// start-up, the cgroup's creation and the migration into it (which on cgroup v1 can wait for an
// RCU grace period) are off the start's path. A thread of its own makes the next one meanwhile.
//
// Needs a cgroup driver that can rename (cgroup v1); each spare costs one sleeping process and
// its empty cgroups. Spares are not containers: they are never checkpointed, and a spare whose
// agent is gone ends itself (its gate reads end-of-file).

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "kubelet-like-agent/runtime/linux/cgroups.h"
#include "kubelet-like-agent/runtime/linux/init_clone.h"

namespace berth::agent::runtime {

class SpareInits {
 public:
  // Keeps `count` spares of `init_path` ready (count >= 1; the driver must be able to rename).
  // With a zygote (which must outlive this), spares are its children, not exec'd.
  SpareInits(std::string init_path, CgroupDriver& cgroups, int count, InitZygote* zygote = nullptr);
  ~SpareInits();  // ends every spare and removes its cgroup
  SpareInits(const SpareInits&) = delete;
  SpareInits& operator=(const SpareInits&) = delete;

  // A spare now in `cgroup` (renamed from its own, an empty leftover replaced), or nullopt when
  // none is ready or the rename failed: the caller then clones an init itself.
  std::optional<WaitingInit> Take(const std::string& cgroup);

  // How many are ready now (tests).
  size_t ready() const;

 private:
  struct Spare {
    WaitingInit init;
    int slot;
  };
  void Loop();
  static std::string SlotCgroup(int slot) { return "berth-spare-" + std::to_string(slot); }

  const std::string init_path_;
  CgroupDriver& cgroups_;
  const int count_;
  InitZygote* const zygote_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Spare> spares_;
  std::vector<bool> slot_used_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the rest is built
};

}  // namespace berth::agent::runtime
