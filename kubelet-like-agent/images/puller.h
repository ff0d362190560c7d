#pragma once
// File: kubelet-like-agent/images/puller.h
// Pulls an image into the store: resolve the reference on the first endpoint that answers
// (mirrors, then the registry), take the linux/amd64 manifest of an index, fetch the config and
// the layers (in parallel, each retried, each verified against its digest while it streams),
// unpack every layer once, and only then record the image under its names. A pull that fails
// at any step leaves no image and no partial layer behind.

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/client/http_fetch.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/images/image_store.h"
#include "kubelet-like-agent/images/registry_config.h"

namespace berth::agent::images {

struct PullResult {
  ImageRecord image;
  int64_t bytes_fetched = 0;  // what crossed the network (blobs already present are not fetched)
  absl::Duration took;
};

struct PullOptions {
  std::string os = "linux";
  std::string architecture = "amd64";
  int parallel_layers = 3;
  int attempts = 3;  // per blob: transport errors and digest mismatches are retried
  absl::Duration retry_delay = absl::Milliseconds(200);
  client::HttpFetcher* http = nullptr;  // null: cpprestsdk
  const Clock* clock = &RealClock::Get();
};

class ImagePuller {
 public:
  ImagePuller(ImageStore& store, RegistryConfig config, PullOptions options = {});

  // `secret_credentials`: a pod's imagePullSecrets by registry host, tried before the node's.
  absl::StatusOr<PullResult> Pull(const std::string& reference,
                                  const std::map<std::string, Credentials>& secret_credentials = {});

 private:
  ImageStore& store_;
  const RegistryConfig config_;
  const PullOptions options_;
  std::unique_ptr<client::HttpFetcher> own_http_;
  client::HttpFetcher& http_;
};

}  // namespace berth::agent::images
