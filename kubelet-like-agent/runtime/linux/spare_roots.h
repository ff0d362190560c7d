#pragma once
// File: kubelet-like-agent/runtime/linux/spare_roots.h
// Image root file systems made ahead of need: for each image started lately, a few fresh
// writable layers (overlay's upper and work directories) with the image's overlay already built
// over each and mounted nowhere (fsopen/fsmount). A start takes one and its init moves the mount
// into the container's mount namespace, so the two directories' creation and the overlay's
// mount-time checks on the upper file system (a work directory made, xattr, whiteout and tmpfile
// probes: ~0.4 ms on this machine's ext4) are off the start's path. A thread of its own makes the
// next one meanwhile.
//
// A root is handed out only while each of its lower directories is still the one it was built
// on (same device and inode): an image deleted or pulled again meanwhile gets a fresh root.

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent::runtime {

// The overlay of `lower` (top layer first) over `upper` and `work`, as a detached mount: a file
// descriptor that move_mount(2) attaches anywhere, in any mount namespace. The caller owns it;
// closing it unmounts the overlay if it was never attached.
absl::StatusOr<int> MountOverlayDetached(const std::vector<std::string>& lower, const std::string& upper,
                                         const std::string& work);

struct PreparedRoot {
  std::string layer;  // the writable layer's name: WritableLayerUpper/Work(state_dir, layer)
  int mount_fd = -1;  // the detached overlay; the taker owns it
};

class SpareRoots {
 public:
  // Keeps `per_image` roots ready for each of the last `images` distinct images taken, with
  // their writable layers under `state_dir`.
  SpareRoots(std::string state_dir, int per_image, int images = 4);
  ~SpareRoots();  // unmounts what was not taken and removes those writable layers
  SpareRoots(const SpareRoots&) = delete;
  SpareRoots& operator=(const SpareRoots&) = delete;

  // A root over exactly these lower directories, or nullopt when none is ready (the caller
  // builds its own). Either way the image counts as in use: roots of it are made from now on.
  std::optional<PreparedRoot> Take(const std::vector<std::string>& lower);

  // A root of the image started most recently, and its lower directories in `image`; nullopt
  // when none is ready. Unlike Take, it does not count as a start of the image.
  std::optional<PreparedRoot> TakeForLatestImage(std::vector<std::string>& image);

  // What a directory is (device and inode): a layer deleted and unpacked again at the same path
  // is another one.
  struct Identity {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const Identity&) const = default;
  };
  // Each of `lower`'s, or nullopt if one is gone.
  static std::optional<std::vector<Identity>> Identify(const std::vector<std::string>& lower);

  // Roots ready now, over all images (tests).
  size_t ready() const;

  // The prefix of every spare's writable layer name, so leftovers of an agent that died can be
  // told from a container's layer.
  static constexpr std::string_view kLayerPrefix = "spare-root-";

 private:
  struct Root {
    PreparedRoot prepared;
    std::vector<Identity> lower;  // what each lower directory was when the overlay was built
  };
  using Key = std::vector<std::string>;
  void Loop();
  std::optional<Root> Make(const Key& lower);
  // The first ready root of `lower` built over what its directories are now (`current`); the
  // ones built over directories since replaced go to unwanted_. mu_ held.
  std::optional<Root> PopCurrentLocked(const Key& lower, const std::optional<std::vector<Identity>>& current);
  void Discard(Root& root) const;

  const std::string state_dir_;
  const int per_image_;
  const int images_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, std::deque<Root>> ready_;
  std::list<Key> recent_;  // most recently taken first; at most images_
  std::set<Key> failed_;   // the last attempt failed: made again after the next Take
  std::vector<Root> unwanted_;  // taken out of ready_, to be discarded by the thread
  uint64_t next_name_ = 0;  // the loop's own, as is warned_
  bool warned_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the rest is built
};

}  // namespace berth::agent::runtime
