#include "kubelet-like-agent/runtime/linux/spare_inits.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/concurrency/thread_name.h"
#include "core/log/log.h"

namespace berth::agent::runtime {

SpareInits::SpareInits(std::string init_path, CgroupDriver& cgroups, int count, InitZygote* zygote)
    : init_path_(std::move(init_path)), cgroups_(cgroups), count_(count), zygote_(zygote),
      slot_used_(static_cast<size_t>(count)) {
  thread_ = std::thread([this] {
    NameThisThread("spare-inits");
    // Spares are made at the lowest priority (their inits inherit it until taken): on a busy
    // node they wait for idle CPU instead of taking it from the starts that need it.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
    Loop();
  });
}

SpareInits::~SpareInits() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (Spare& s : spares_) {
    DiscardWaitingInit(s.init);
    (void)cgroups_.Remove(SlotCgroup(s.slot));
  }
}

size_t SpareInits::ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spares_.size();
}

std::optional<WaitingInit> SpareInits::Take(const std::string& cgroup) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!spares_.empty()) {
    Spare s = spares_.front();
    spares_.pop_front();
    // One that died while it waited (killed from outside) is reaped, not handed out.
    if (waitpid(static_cast<pid_t>(s.init.pid), nullptr, WNOHANG) != 0) {
      s.init.pid = 0;
      DiscardWaitingInit(s.init);
      (void)cgroups_.Remove(SlotCgroup(s.slot));
      slot_used_[static_cast<size_t>(s.slot)] = false;
      continue;
    }
    // Renamed before the slot is freed: the loop's next spare in this slot gets a new cgroup.
    absl::Status renamed = cgroups_.Rename(SlotCgroup(s.slot), cgroup);
    if (!renamed.ok()) {
      BERTH_LOG(Warning, "agent.runtime", "Cannot use a spare container init", "error", renamed.ToString());
      DiscardWaitingInit(s.init);
      (void)cgroups_.Remove(SlotCgroup(s.slot));
    }
    slot_used_[static_cast<size_t>(s.slot)] = false;
    lock.unlock();
    cv_.notify_all();
    if (!renamed.ok()) return std::nullopt;
    // Back to the priority of the start that takes it (the workload inherits it).
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(s.init.pid), getpriority(PRIO_PROCESS, 0));
    return s.init;
  }
  return std::nullopt;
}

void SpareInits::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || static_cast<int>(spares_.size()) < count_; });
    if (stopping_) return;
    int slot = 0;
    while (slot_used_[static_cast<size_t>(slot)]) ++slot;
    slot_used_[static_cast<size_t>(slot)] = true;
    lock.unlock();
    // A leftover of an earlier agent run is replaced (Create), its init long gone or going.
    std::optional<WaitingInit> init;
    absl::Status failed;
    if (auto made = cgroups_.Create(SlotCgroup(slot), CgroupLimits{}); !made.ok()) {
      failed = made.status();
    } else if (auto cloned = CloneWaitingInit(init_path_, cgroups_, SlotCgroup(slot), zygote_); !cloned.ok()) {
      failed = cloned.status();
      (void)cgroups_.Remove(SlotCgroup(slot));
    } else {
      init = *cloned;
    }
    lock.lock();
    if (!init) {
      slot_used_[static_cast<size_t>(slot)] = false;
      BERTH_LOG(Warning, "agent.runtime", "Cannot make a spare container init; starts clone their own",
                "error", failed.ToString());
      // Not in a tight loop: try again when a start takes one or the runtime stops.
      cv_.wait(lock, [&] { return stopping_; });
      return;
    }
    spares_.push_back(Spare{*init, slot});
  }
}

}  // namespace berth::agent::runtime
