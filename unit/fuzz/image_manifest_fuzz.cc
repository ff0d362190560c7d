// libFuzzer target: the image documents a registry or an archive hands the agent — index,
// manifest and config JSON, dockerconfigjson, the registry configuration and WWW-Authenticate
// challenges. None may crash, and a parsed manifest's digests must all be valid (they name
// files in the store).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kubelet-like-agent/images/digest.h"
#include "kubelet-like-agent/images/oci_manifest.h"
#include "kubelet-like-agent/images/registry_client.h"
#include "kubelet-like-agent/images/registry_config.h"

using namespace berth::agent::images;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto m = ParseManifest(input, "");
  if (m.ok()) {
    for (const Descriptor& d : m->manifests) {
      if (!IsSha256Digest(d.digest)) std::abort();
    }
    for (const Descriptor& d : m->layers) {
      if (!IsSha256Digest(d.digest) || !LayerCompression(d.media_type).ok()) std::abort();
    }
    if (!m->is_index && !IsSha256Digest(m->config.digest)) std::abort();
    if (m->is_index) (void)SelectPlatform(*m, "linux", "amd64");
  }
  (void)ParseImageConfig(input);
  (void)ParseDockerConfigJson(input);
  (void)ParseRegistryConfig(input);
  (void)ParseAuthChallenge(input);
  return 0;
}
