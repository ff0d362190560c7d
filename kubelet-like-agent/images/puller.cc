#include "kubelet-like-agent/images/puller.h"

#include <unistd.h>

#include <atomic>
#include <future>

#include "core/image/reference.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/images/digest.h"
#include "kubelet-like-agent/images/registry_client.h"

namespace berth::agent::images {
namespace {

bool Retriable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable || s.code() == absl::StatusCode::kDataLoss;
}

// Fetches one blob into the store unless it is there; the bytes fetched.
absl::StatusOr<int64_t> FetchBlob(ImageStore& store, RegistryClient& client, const Descriptor& d, const PullOptions& options) {
  if (store.HasBlob(d.digest)) return 0;
  absl::Status last;
  for (int attempt = 0; attempt < options.attempts; ++attempt) {
    if (attempt > 0) options.clock->SleepFor(options.retry_delay * (1 << (attempt - 1)));
    std::string temp = store.TempPath(std::string(DigestHex(d.digest)));
    last = client.DownloadBlob(d, temp);
    if (last.ok()) {
      last = store.CommitBlob(temp, d.digest);
      if (last.ok()) return d.size;
    }
    unlink(temp.c_str());
    if (!Retriable(last)) break;
  }
  return last;
}

}  // namespace

ImagePuller::ImagePuller(ImageStore& store, RegistryConfig config, PullOptions options)
    : store_(store), config_(std::move(config)), options_(std::move(options)),
      own_http_(options_.http ? nullptr : client::NewCpprestFetcher()), http_(options_.http ? *options_.http : *own_http_) {}

absl::StatusOr<PullResult> ImagePuller::Pull(const std::string& reference,
                                             const std::map<std::string, Credentials>& secret_credentials) {
  absl::Time start = options_.clock->Now();
  auto ref = image::ParseReference(reference);
  if (!ref.ok()) return ref.status();
  const std::string registry = ref->Registry();
  const std::string repository = ref->Repository();
  Credentials credentials = config_.CredentialsFor(registry);
  if (auto it = secret_credentials.find(registry); it != secret_credentials.end()) credentials = it->second;
  const std::string wanted = ref->digest.empty() ? ref->TagOrLatest() : ref->digest;

  // Resolve on the first endpoint that has it: a mirror that is down or lacks the image
  // hands over to the next, the registry's own answer is final.
  std::unique_ptr<RegistryClient> client;
  absl::StatusOr<FetchedManifest> top = absl::NotFoundError("no endpoint");
  for (const RegistryEndpoint& endpoint : config_.EndpointsFor(registry)) {
    auto candidate = std::make_unique<RegistryClient>(http_, endpoint, repository, credentials);
    top = candidate->GetManifest(wanted);
    client = std::move(candidate);
    if (top.ok()) break;
    if (!endpoint.is_mirror) break;
  }
  if (!top.ok()) return top.status();
  PullResult result;
  result.bytes_fetched += static_cast<int64_t>(top->body.size());
  auto manifest = ParseManifest(top->body, top->content_type);
  if (!manifest.ok()) return manifest.status();
  if (absl::Status s = store_.PutBlob(top->body, top->digest); !s.ok()) return s;
  std::string manifest_digest = top->digest;
  if (manifest->is_index) {
    auto platform = SelectPlatform(*manifest, options_.os, options_.architecture);
    if (!platform.ok()) return platform.status();
    auto inner = client->GetManifest(platform->digest);
    if (!inner.ok()) return inner.status();
    result.bytes_fetched += static_cast<int64_t>(inner->body.size());
    manifest = ParseManifest(inner->body, inner->content_type);
    if (!manifest.ok()) return manifest.status();
    if (manifest->is_index) return absl::InvalidArgumentError("the platform's manifest is itself an index");
    if (absl::Status s = store_.PutBlob(inner->body, inner->digest); !s.ok()) return s;
    manifest_digest = inner->digest;
  }
  std::vector<std::string> protect = {top->digest, manifest_digest, manifest->config.digest};
  for (const Descriptor& l : manifest->layers) protect.push_back(l.digest);
  std::string lease = store_.LeaseForPull(protect);
  struct Release {
    ImageStore& store;
    std::string holder;
    ~Release() { store.Release(holder); }
  } release{store_, lease};
  auto config_bytes = FetchBlob(store_, *client, manifest->config, options_);
  if (!config_bytes.ok()) return config_bytes.status();
  result.bytes_fetched += *config_bytes;
  auto config_text = store_.ReadBlob(manifest->config.digest);
  if (!config_text.ok()) return config_text.status();
  auto config = ParseImageConfig(*config_text);
  if (!config.ok()) return config.status();
  if (!config->diff_ids.empty() && config->diff_ids.size() != manifest->layers.size()) {
    return absl::InvalidArgumentError(StrCat("the image config lists ", config->diff_ids.size(), " layers, the manifest ",
                                             manifest->layers.size()));
  }
  // Layers in parallel, a few at a time; each is unpacked as soon as it is in.
  std::atomic<size_t> next{0};
  std::vector<absl::Status> failures(manifest->layers.size());
  std::vector<int64_t> fetched(manifest->layers.size(), 0);
  auto worker = [&] {
    for (size_t i = next++; i < manifest->layers.size(); i = next++) {
      auto bytes = FetchBlob(store_, *client, manifest->layers[i], options_);
      if (!bytes.ok()) {
        failures[i] = bytes.status();
        continue;
      }
      fetched[i] = *bytes;
      if (auto dir = store_.EnsureLayer(manifest->layers[i].digest); !dir.ok()) failures[i] = dir.status();
    }
  };
  std::vector<std::future<void>> workers;
  int n = std::max(1, std::min<int>(options_.parallel_layers, static_cast<int>(manifest->layers.size())));
  for (int i = 0; i < n; ++i) workers.push_back(std::async(std::launch::async, worker));
  for (auto& w : workers) w.wait();
  for (size_t i = 0; i < failures.size(); ++i) {
    if (!failures[i].ok()) {
      return absl::Status(failures[i].code(), StrCat("layer ", i + 1, " of ", failures.size(), ": ", failures[i].message()));
    }
    result.bytes_fetched += fetched[i];
  }

  ImageRecord& image = result.image;
  image.id = manifest->config.digest;
  if (ref->digest.empty()) image.names.push_back(ref->Normalized());
  image.names.push_back(ref->WithDigest(top->digest));
  image.manifest_digest = manifest_digest;
  image.size = manifest->config.size;
  for (const Descriptor& l : manifest->layers) {
    image.layers.push_back(l.digest);
    image.size += l.size;
  }
  image.last_used = absl::ToUnixSeconds(options_.clock->Now());
  image.config = *std::move(config);
  if (absl::Status s = store_.PutImage(image); !s.ok()) return s;
  result.took = options_.clock->Now() - start;
  return result;
}

}  // namespace berth::agent::images
