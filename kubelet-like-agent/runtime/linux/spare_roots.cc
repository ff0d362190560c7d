#include "kubelet-like-agent/runtime/linux/spare_roots.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/concurrency/thread_name.h"
#include "core/log/log.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/runtime/linux/records.h"

namespace berth::agent::runtime {

absl::StatusOr<int> MountOverlayDetached(const std::vector<std::string>& lower, const std::string& upper,
                                         const std::string& work) {
  int context = fsopen("overlay", FSOPEN_CLOEXEC);
  if (context < 0) return absl::UnavailableError(StrCat("fsopen(overlay): ", std::strerror(errno)));
  auto fail = [&](const std::string& what) {
    int err = errno;
    close(context);
    return absl::UnavailableError(StrCat(what, ": ", std::strerror(err)));
  };
  // One lower directory per call ("lowerdir+", Linux 6.8): a colon-joined list of an image's
  // layers can pass fsconfig's 256-byte limit on a value.
  for (const std::string& dir : lower) {
    if (fsconfig(context, FSCONFIG_SET_STRING, "lowerdir+", dir.c_str(), 0) != 0) return fail("overlay lower dir " + dir);
  }
  if (fsconfig(context, FSCONFIG_SET_STRING, "upperdir", upper.c_str(), 0) != 0) return fail("overlay upper dir " + upper);
  if (fsconfig(context, FSCONFIG_SET_STRING, "workdir", work.c_str(), 0) != 0) return fail("overlay work dir " + work);
  if (fsconfig(context, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return fail("creating the overlay over " + upper);
  int mount_fd = fsmount(context, FSMOUNT_CLOEXEC, 0);
  if (mount_fd < 0) return fail("fsmount of the overlay over " + upper);
  close(context);
  return mount_fd;
}

SpareRoots::SpareRoots(std::string state_dir, int per_image, int images)
    : state_dir_(std::move(state_dir)), per_image_(per_image), images_(images) {
  thread_ = std::thread([this] {
    NameThisThread("spare-roots");
    // As spare inits: made from idle CPU, not taken from the starts that need it.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
    Loop();
  });
}

SpareRoots::~SpareRoots() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& [key, roots] : ready_) {
    for (Root& r : roots) Discard(r);
  }
  for (Root& r : unwanted_) Discard(r);
}

size_t SpareRoots::ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [key, roots] : ready_) n += roots.size();
  return n;
}

std::optional<std::vector<SpareRoots::Identity>> SpareRoots::Identify(const std::vector<std::string>& lower) {
  std::vector<Identity> out;
  for (const std::string& dir : lower) {
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return std::nullopt;
    out.push_back({st.st_dev, st.st_ino});
  }
  return out;
}

void SpareRoots::Discard(Root& root) const {
  if (root.prepared.mount_fd >= 0) close(root.prepared.mount_fd);  // never attached: unmounted
  root.prepared.mount_fd = -1;
  RemoveWritableLayer(state_dir_, root.prepared.layer);
}

std::optional<PreparedRoot> SpareRoots::Take(const Key& lower) {
  // What the lower directories are now: a layer directory replaced since a root was built (the
  // image deleted, or pulled again) would show the container the old, unlinked one.
  const std::optional<std::vector<Identity>> current = Identify(lower);
  std::optional<Root> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Roots no longer wanted go to the thread: unmounting an overlay syncs its upper file
    // system, which a start must not wait for.
    std::vector<Root>& unwanted = unwanted_;
    recent_.remove(lower);
    recent_.push_front(lower);
    failed_.erase(lower);
    while (static_cast<int>(recent_.size()) > images_) {
      if (auto it = ready_.find(recent_.back()); it != ready_.end()) {
        for (Root& r : it->second) unwanted.push_back(std::move(r));
        ready_.erase(it);
      }
      recent_.pop_back();
    }
    taken = PopCurrentLocked(lower, current);
  }
  cv_.notify_all();
  if (!taken) return std::nullopt;
  return taken->prepared;
}

std::optional<SpareRoots::Root> SpareRoots::PopCurrentLocked(const Key& lower,
                                                             const std::optional<std::vector<Identity>>& current) {
  auto it = ready_.find(lower);
  while (it != ready_.end() && !it->second.empty()) {
    Root r = std::move(it->second.front());
    it->second.pop_front();
    if (current == r.lower) return r;
    unwanted_.push_back(std::move(r));
  }
  return std::nullopt;
}

std::optional<PreparedRoot> SpareRoots::TakeForLatestImage(std::vector<std::string>& image) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (recent_.empty()) return std::nullopt;
    image = recent_.front();
  }
  const std::optional<std::vector<Identity>> current = Identify(image);
  std::optional<Root> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    taken = PopCurrentLocked(image, current);
  }
  cv_.notify_all();
  if (!taken) return std::nullopt;
  return taken->prepared;
}

std::optional<SpareRoots::Root> SpareRoots::Make(const Key& lower) {
  std::optional<std::vector<Identity>> identity = Identify(lower);  // before the overlay is built
  if (!identity) return std::nullopt;
  Root root;
  root.lower = *identity;
  // A fresh name: a layer of that name may belong to a container of an earlier agent run.
  std::string upper;
  bool made = false;
  for (int tries = 0; tries < 1000 && !made; ++tries) {
    root.prepared.layer = StrCat(kLayerPrefix, next_name_++);
    upper = WritableLayerUpper(state_dir_, root.prepared.layer);
    made = mkdir(upper.c_str(), 0755) == 0;
    if (!made && errno != EEXIST) break;
  }
  absl::Status failed;
  if (!made) {
    failed = absl::UnavailableError(StrCat("the writable layer ", upper, ": ", std::strerror(errno)));
    root.prepared.layer.clear();  // not ours to remove
  } else {
    const std::string work = WritableLayerWork(state_dir_, root.prepared.layer);
    if (absl::Status s = MakeEmptyDirectory(work); !s.ok()) {
      failed = s;
    } else if (auto fd = MountOverlayDetached(lower, upper, work); !fd.ok()) {
      failed = fd.status();
    } else {
      root.prepared.mount_fd = *fd;
      return root;
    }
  }
  if (!warned_) {  // once: the cause (an old kernel, say) is the same for every image
    BERTH_LOG(Warning, "agent.runtime", "Cannot make a spare root file system; starts build their own", "error",
              failed.ToString());
    warned_ = true;
  }
  Discard(root);
  return std::nullopt;
}

void SpareRoots::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    std::optional<Key> wanted;
    cv_.wait(lock, [&] {
      if (stopping_ || !unwanted_.empty()) return true;
      for (const Key& key : recent_) {
        if (failed_.contains(key)) continue;
        auto it = ready_.find(key);
        if (it == ready_.end() || static_cast<int>(it->second.size()) < per_image_) {
          wanted = key;
          return true;
        }
      }
      return false;
    });
    if (stopping_) return;
    if (!unwanted_.empty()) {
      std::vector<Root> unwanted;
      unwanted.swap(unwanted_);
      lock.unlock();
      for (Root& r : unwanted) Discard(r);
      lock.lock();
      continue;
    }
    lock.unlock();
    std::optional<Root> root = Make(*wanted);
    lock.lock();
    if (!root) {
      // Not in a tight loop: tried again after the image's next start.
      failed_.insert(*wanted);
      continue;
    }
    bool still_wanted = std::find(recent_.begin(), recent_.end(), *wanted) != recent_.end();
    if (stopping_ || !still_wanted) {
      lock.unlock();
      Discard(*root);
      lock.lock();
      if (stopping_) return;
      continue;
    }
    ready_[*wanted].push_back(std::move(*root));
  }
}

}  // namespace berth::agent::runtime
