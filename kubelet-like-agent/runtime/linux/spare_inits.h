#pragma once
// File: kubelet-like-agent/runtime/linux/spare_inits.h
// A few container inits made ahead of need: each cloned into its own PID, UTS and IPC
// namespaces and its own cgroup ("berth-spare-<slot>"), waiting at its gate. A start takes one,
// renames its cgroup to the container's and releases it, so the clone, the init's exec and
// start-up, the cgroup's creation and the migration into it (which on cgroup v1 can wait for an
// RCU grace period) are off the start's path. A thread of its own makes the next one meanwhile.
//
// A preparer (the runtime's spare roots) may build a spare's root file system ahead for the
// image most recently started: that spare then serves a start of that image only, with its
// mounts and pivot_root already done. One spare is always left unprepared, for other starts.
//
// Needs a cgroup driver that can rename (cgroup v1); each spare costs one sleeping process and
// its empty cgroups. Spares are not containers: they are never checkpointed, and a spare whose
// agent is gone ends itself (its gate reads end-of-file).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kubelet-like-agent/runtime/linux/cgroups.h"
#include "kubelet-like-agent/runtime/linux/init_clone.h"

namespace berth::agent::runtime {

// What a spare's root file system was built for, and over which writable layer.
struct SparePreparation {
  std::vector<std::string> image;  // the image's lower directories, as SpareRoots keys them
  std::string layer;               // the writable layer under the root (records.h)
  // What the lower directories were (device, inode) when the root was built over them.
  std::vector<std::pair<uint64_t, uint64_t>> lower_identity;
};

class SparePreparer {
 public:
  virtual ~SparePreparer() = default;
  // On the spare thread, with a new spare: builds its root ahead (PrepareInit) and says for
  // what, or leaves it as it was (nullopt, `lost` false). `lost`: the init failed while
  // preparing and is gone (discarded here).
  virtual std::optional<SparePreparation> Prepare(WaitingInit& init, bool& lost) = 0;
  // Whether the image's directories are still the ones the root was built over: one deleted
  // and unpacked again at the same path (pulled again) is another image.
  virtual bool StillCurrent(const SparePreparation& preparation) = 0;
  // A prepared spare that is ended unused: its writable layer goes.
  virtual void Forget(const SparePreparation& preparation) = 0;
};

class SpareInits {
 public:
  // Keeps `count` spares of `init_path` ready (count >= 1; the driver must be able to rename).
  // With a zygote (which must outlive this), spares are its children, not exec'd.
  // `preparer` (may be null) must outlive this.
  SpareInits(std::string init_path, CgroupDriver& cgroups, int count, InitZygote* zygote = nullptr,
             SparePreparer* preparer = nullptr);
  ~SpareInits();  // ends every spare and removes its cgroup
  SpareInits(const SpareInits&) = delete;
  SpareInits& operator=(const SpareInits&) = delete;

  struct Taken {
    WaitingInit init;
    std::optional<SparePreparation> prepared;  // set: its root is built, over this layer
  };
  // A spare now in `cgroup` (renamed from its own, an empty leftover replaced), or nullopt when
  // none is ready or the rename failed: the caller then clones an init itself. A spare prepared
  // for `image` (null: the start has no image root) comes first, else an unprepared one; spares
  // prepared for other images are then ended, so the next ones are prepared for this image.
  std::optional<Taken> Take(const std::string& cgroup, const std::vector<std::string>* image = nullptr);

  // How many are ready now, and how many of those prepared (tests).
  size_t ready() const;
  size_t prepared() const;

 private:
  struct Spare {
    WaitingInit init;
    int slot;
    std::optional<SparePreparation> prepared;
  };
  void Loop();
  void Discard(Spare& spare);
  static std::string SlotCgroup(int slot) { return "berth-spare-" + std::to_string(slot); }

  const std::string init_path_;
  CgroupDriver& cgroups_;
  const int count_;
  InitZygote* const zygote_;
  SparePreparer* const preparer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Spare> spares_;
  std::vector<Spare> unwanted_;  // ended by the thread, off the starts' path
  std::vector<bool> slot_used_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the rest is built
};

}  // namespace berth::agent::runtime
