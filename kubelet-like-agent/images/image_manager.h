#pragma once
// File: kubelet-like-agent/images/image_manager.h
// What the kubelet's image manager does for the sync loop: decide by imagePullPolicy whether a
// container's image must be pulled (Always, IfNotPresent, Never; the apiserver defaults it,
// ":latest" to Always), pull it once however many pods want it at the same time, back off
// after a failure (10 s doubling to 5 min: ErrImagePull, then ImagePullBackOff), tell the story
// in Events (Pulling, Pulled with time and size, Failed, BackOff), and keep the store within
// its disk thresholds (image GC, least recently used first, never an image a container runs).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "core/json/value.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/images/image_store.h"
#include "kubelet-like-agent/images/puller.h"

namespace berth::agent::images {

struct ImageManagerOptions {
  absl::Duration initial_backoff = absl::Seconds(10);
  absl::Duration max_backoff = absl::Minutes(5);
  int gc_high_percent = 85;  // the kubelet's imageGCHighThresholdPercent
  int gc_low_percent = 80;   // ... and imageGCLowThresholdPercent
  absl::Duration gc_min_age = absl::Minutes(2);  // the kubelet's imageMinimumGCAge
};

struct EnsureResult {
  std::optional<ImageRecord> image;  // set when the container can start
  std::string reason;                // otherwise: ErrImagePull, ImagePullBackOff, ErrImageNeverPull, InvalidImageName
  std::string message;
};

// (type, reason, message) of an Event on the pod.
using EventSink = std::function<void(const char* type, const char* reason, const std::string& message)>;

class ImageManager {
 public:
  ImageManager(ImageStore& store, RegistryConfig registry, ImageManagerOptions options = {},
               const Clock& clock = RealClock::Get(), PullOptions pull = {});

  // `backoff_key` identifies who waits (the kubelet backs off per pod and image);
  // `credentials`: the pod's imagePullSecrets by registry host. The image returned is leased
  // for `container_id` (GC and `berth image rm` leave it alone until Release).
  EnsureResult Ensure(const std::string& image, const std::string& pull_policy, const std::string& backoff_key,
                      const std::string& container_id, const std::map<std::string, Credentials>& credentials,
                      const EventSink& event);

  // Drops leases of containers not in `live` and, when the store's file system is above the
  // high threshold, removes unused images down to the low one. The bytes freed.
  int64_t GarbageCollect(const std::set<std::string>& live_containers);

  // Node.status.images: [{names, sizeBytes}], largest first as the kubelet reports them.
  json::Value NodeImages();

  ImageStore& store() { return store_; }

 private:
  struct Backoff {
    absl::Duration delay;
    std::chrono::steady_clock::time_point until;
    std::string last_error;
  };
  EnsureResult EnsureUnleased(const std::string& image, const std::string& pull_policy, const std::string& backoff_key,
                              const std::map<std::string, Credentials>& credentials, const EventSink& event);
  std::shared_ptr<std::mutex> PullLock(const std::string& normalized);

  ImageStore& store_;
  ImagePuller puller_;
  const ImageManagerOptions options_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Backoff> backoff_;                 // by backoff key + image
  std::map<std::string, std::weak_ptr<std::mutex>> pulls_;  // by normalized reference
};

// "Successfully pulled image ... Image size: N bytes." as the kubelet words it.
std::string PulledMessage(const std::string& image, absl::Duration took, int64_t size);

}  // namespace berth::agent::images
