#include "kubelet-like-agent/runtime/linux/spare_inits.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "core/concurrency/thread_name.h"
#include "core/log/log.h"

namespace berth::agent::runtime {

SpareInits::SpareInits(std::string init_path, CgroupDriver& cgroups, int count, InitZygote* zygote,
                       SparePreparer* preparer)
    : init_path_(std::move(init_path)), cgroups_(cgroups), count_(count), zygote_(zygote), preparer_(preparer),
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
  for (Spare& s : spares_) Discard(s);
  for (Spare& s : unwanted_) Discard(s);
}

void SpareInits::Discard(Spare& spare) {
  DiscardWaitingInit(spare.init);  // reaped: its mounts are gone with its namespace
  (void)cgroups_.Remove(SlotCgroup(spare.slot));
  if (spare.prepared && preparer_ != nullptr) preparer_->Forget(*spare.prepared);
  spare.prepared.reset();
}

size_t SpareInits::ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spares_.size();
}

size_t SpareInits::prepared() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(std::count_if(spares_.begin(), spares_.end(), [](const Spare& s) { return s.prepared.has_value(); }));
}

std::optional<SpareInits::Taken> SpareInits::Take(const std::string& cgroup, const std::vector<std::string>* image) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!spares_.empty()) {
    auto fits = [&](const Spare& s) { return s.prepared ? image != nullptr && s.prepared->image == *image : true; };
    auto prepared_for_it = std::find_if(spares_.begin(), spares_.end(),
                                        [&](const Spare& s) { return s.prepared && fits(s); });
    if (prepared_for_it != spares_.end() && !preparer_->StillCurrent(*prepared_for_it->prepared)) {
      unwanted_.push_back(std::move(*prepared_for_it));
      spares_.erase(prepared_for_it);
      cv_.notify_all();
      continue;
    }
    auto it = prepared_for_it != spares_.end() ? prepared_for_it : std::find_if(spares_.begin(), spares_.end(), fits);
    if (it == spares_.end()) break;
    Spare s = std::move(*it);
    spares_.erase(it);
    // One that died while it waited (killed from outside) is reaped, not handed out.
    if (waitpid(static_cast<pid_t>(s.init.pid), nullptr, WNOHANG) != 0) {
      s.init.pid = 0;
      Discard(s);
      slot_used_[static_cast<size_t>(s.slot)] = false;
      continue;
    }
    // Renamed before the slot is freed: the loop's next spare in this slot gets a new cgroup.
    absl::Status renamed = cgroups_.Rename(SlotCgroup(s.slot), cgroup);
    if (!renamed.ok()) {
      BERTH_LOG(Warning, "agent.runtime", "Cannot use a spare container init", "error", renamed.ToString());
      Discard(s);
    }
    slot_used_[static_cast<size_t>(s.slot)] = false;
    if (image != nullptr && !s.prepared) {
      // This image has no prepared spare: the ones for other images make way for it.
      for (auto other = spares_.begin(); other != spares_.end();) {
        if (other->prepared) {
          unwanted_.push_back(std::move(*other));
          other = spares_.erase(other);
        } else {
          ++other;
        }
      }
    }
    lock.unlock();
    cv_.notify_all();
    if (!renamed.ok()) return std::nullopt;
    // Back to the priority of the start that takes it (the workload inherits it).
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(s.init.pid), getpriority(PRIO_PROCESS, 0));
    return Taken{s.init, std::move(s.prepared)};
  }
  return std::nullopt;
}

void SpareInits::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !unwanted_.empty() || static_cast<int>(spares_.size()) < count_; });
    if (stopping_) return;
    if (!unwanted_.empty()) {
      std::vector<Spare> unwanted;
      unwanted.swap(unwanted_);
      lock.unlock();
      for (Spare& s : unwanted) Discard(s);
      lock.lock();
      for (Spare& s : unwanted) slot_used_[static_cast<size_t>(s.slot)] = false;
      continue;
    }
    int slot = 0;
    while (slot_used_[static_cast<size_t>(slot)]) ++slot;
    slot_used_[static_cast<size_t>(slot)] = true;
    // One spare stays unprepared, for starts of other images or without one.
    const bool prepare = preparer_ != nullptr &&
                         std::any_of(spares_.begin(), spares_.end(), [](const Spare& s) { return !s.prepared; });
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
    std::optional<SparePreparation> prepared;
    if (init && prepare) {
      bool lost = false;
      prepared = preparer_->Prepare(*init, lost);
      if (lost) {
        // Said by the preparer; this slot's next spare is made unprepared or prepared anew.
        (void)cgroups_.Remove(SlotCgroup(slot));
        lock.lock();
        slot_used_[static_cast<size_t>(slot)] = false;
        continue;
      }
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
    spares_.push_back(Spare{*init, slot, std::move(prepared)});
  }
}

}  // namespace berth::agent::runtime
