// libFuzzer target: a hostile layer (tar, optionally gzip or zstd) unpacked by the agent. It must
// not crash, and nothing may land outside the layer directory whatever the entries say ("..",
// absolute paths, symlinks then paths through them, hard links out).
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "kubelet-like-agent/images/layer_unpacker.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A plain array, not a std::string: the exit handler below runs after static strings are gone.
  static char base_path[] = "/tmp/berth-layer-fuzz-XXXXXX";
  static const std::string base = [] {
    std::string made = mkdtemp(base_path);
    // libFuzzer ends a run with exit(): the scratch directory goes with it.
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(base_path, ignored);
    });
    return made;
  }();
  const std::string archive = base + "/layer", into = base + "/root/layer", canary = base + "/root";
  std::error_code ec;
  fs::remove_all(base + "/root", ec);
  fs::create_directories(into, ec);
  if (FILE* f = std::fopen(archive.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  (void)berth::agent::images::UnpackLayer(archive, into);
  // The layer's parent holds only the layer: anything else escaped.
  for (const auto& e : fs::directory_iterator(canary, ec)) {
    if (e.path().filename() != "layer") std::abort();
  }
  return 0;
}
