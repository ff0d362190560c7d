#include "kubelet-like-agent/images/image_manager.h"

#include <algorithm>

#include "core/image/reference.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::agent::images {
namespace {

std::string Seconds(absl::Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", absl::ToDoubleSeconds(d));
  return buf;
}

}  // namespace

std::string PulledMessage(const std::string& image, absl::Duration took, int64_t size) {
  return StrCat("Successfully pulled image \"", image, "\" in ", Seconds(took), " (", Seconds(took),
                " including waiting). Image size: ", size, " bytes.");
}

ImageManager::ImageManager(ImageStore& store, RegistryConfig registry, ImageManagerOptions options, const Clock& clock,
                           PullOptions pull)
    : store_(store), puller_(store, std::move(registry), [&] {
        if (pull.clock == &RealClock::Get()) pull.clock = &clock;
        return std::move(pull);
      }()),
      options_(options), clock_(clock) {}

std::shared_ptr<std::mutex> ImageManager::PullLock(const std::string& normalized) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<std::mutex> m = pulls_[normalized].lock();
  if (!m) {
    m = std::make_shared<std::mutex>();
    pulls_[normalized] = m;
  }
  return m;
}

EnsureResult ImageManager::Ensure(const std::string& image, const std::string& pull_policy, const std::string& backoff_key,
                                  const std::string& container_id, const std::map<std::string, Credentials>& credentials,
                                  const EventSink& event) {
  EnsureResult result = EnsureUnleased(image, pull_policy, backoff_key, credentials, event);
  if (result.image) {
    if (absl::Status s = store_.Lease(container_id, result.image->id); !s.ok()) {
      // Collected between the pull and now: the next attempt finds it missing and pulls again.
      result.reason = "ErrImagePull";
      result.message = StrCat("image \"", image, "\" was removed from the store while starting: ", s.message());
      result.image.reset();
    }
  }
  return result;
}

EnsureResult ImageManager::EnsureUnleased(const std::string& image, const std::string& pull_policy,
                                          const std::string& backoff_key,
                                          const std::map<std::string, Credentials>& credentials, const EventSink& event) {
  EnsureResult result;
  auto ref = image::ParseReference(image);
  if (!ref.ok()) {
    result.reason = "InvalidImageName";
    result.message = StrCat("Failed to apply default image tag \"", image, "\": couldn't parse image name \"", image,
                            "\": ", ref.status().message());
    event("Warning", "InspectFailed", result.message);
    return result;
  }
  const std::string normalized = ref->Normalized();
  std::string policy = pull_policy;
  if (policy.empty()) policy = ref->IsLatest() ? "Always" : "IfNotPresent";
  // Pulled by digest, an image is found under repo@digest; by tag under its tag.
  std::string lookup = ref->digest.empty() ? normalized : ref->WithDigest(ref->digest);
  std::optional<ImageRecord> present = store_.Find(lookup);
  if (policy == "Never") {
    if (present) {
      event("Normal", "Pulled", StrCat("Container image \"", image, "\" already present on machine"));
      result.image = std::move(present);
      return result;
    }
    result.reason = "ErrImageNeverPull";
    result.message = StrCat("Container image \"", image, "\" is not present with pull policy of Never");
    event("Warning", "ErrImageNeverPull", result.message);
    return result;
  }
  if (present && policy == "IfNotPresent") {
    event("Normal", "Pulled", StrCat("Container image \"", image, "\" already present on machine"));
    result.image = std::move(present);
    return result;
  }
  const std::string key = backoff_key + "\n" + normalized;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = backoff_.find(key);
    if (it != backoff_.end() && clock_.MonotonicNow() < it->second.until) {
      result.reason = "ImagePullBackOff";
      event("Normal", "BackOff", StrCat("Back-off pulling image \"", image, "\""));
      // The cause stays in sight while waiting, as the kubelet (1.31+) words it.
      result.message = StrCat("Back-off pulling image \"", image, "\": ErrImagePull: ", it->second.last_error);
      return result;
    }
  }
  std::shared_ptr<std::mutex> pull_lock = PullLock(normalized);
  std::lock_guard<std::mutex> pulling(*pull_lock);
  // Another pod's pull of the same image may have finished while this one waited.
  if (policy == "IfNotPresent") {
    if (std::optional<ImageRecord> now_present = store_.Find(lookup)) {
      event("Normal", "Pulled", StrCat("Container image \"", image, "\" already present on machine"));
      result.image = std::move(now_present);
      return result;
    }
  }
  event("Normal", "Pulling", StrCat("Pulling image \"", image, "\""));
  auto pulled = puller_.Pull(image, credentials);
  if (!pulled.ok()) {
    result.reason = "ErrImagePull";
    result.message = StrCat("failed to pull and unpack image \"", normalized, "\": ", pulled.status().message());
    event("Warning", "Failed", StrCat("Failed to pull image \"", image, "\": ", result.message));
    event("Warning", "Failed", "Error: ErrImagePull");
    std::lock_guard<std::mutex> lock(mu_);
    Backoff& b = backoff_[key];
    b.delay = b.delay == absl::ZeroDuration() ? options_.initial_backoff : std::min(b.delay * 2, options_.max_backoff);
    b.until = clock_.MonotonicNow() + absl::ToChronoNanoseconds(b.delay);
    b.last_error = result.message;
    BERTH_LOG(Warning, "agent.images", "Image pull failed", "image", image, "error", pulled.status().message());
    return result;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    backoff_.erase(key);
  }
  event("Normal", "Pulled", PulledMessage(image, pulled->took, pulled->image.size));
  result.image = std::move(pulled->image);
  return result;
}

int64_t ImageManager::GarbageCollect(const std::set<std::string>& live_containers) {
  store_.ReconcileLeases(live_containers);
  auto usage = store_.FileSystemUsage();
  if (!usage.ok() || usage->second <= 0) return 0;
  auto [used, total] = *usage;
  if (used * 100 < static_cast<int64_t>(options_.gc_high_percent) * total) return 0;
  int64_t to_free = used - total * options_.gc_low_percent / 100;
  int64_t freed = store_.FreeSpace(to_free, absl::ToUnixSeconds(clock_.Now()), absl::ToInt64Seconds(options_.gc_min_age));
  BERTH_LOG(Info, "agent.images", "Image garbage collection", "usedPercent", used * 100 / total, "wanted", to_free,
            "freed", freed);
  return freed;
}

json::Value ImageManager::NodeImages() {
  std::vector<ImageRecord> all = store_.List();
  std::sort(all.begin(), all.end(), [](const ImageRecord& a, const ImageRecord& b) { return a.size > b.size; });
  json::Value out = json::Value::MakeArray();
  for (const ImageRecord& r : all) {
    if (r.names.empty()) continue;
    json::Value entry = json::Value::MakeObject();
    json::Value names = json::Value::MakeArray();
    for (const std::string& n : r.names) names.as_array().push_back(n);
    entry.Set("names", std::move(names));
    entry.Set("sizeBytes", r.size);
    out.as_array().push_back(std::move(entry));
  }
  return out;
}

}  // namespace berth::agent::images
