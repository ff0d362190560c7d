#include "kubelet-like-agent/images/image_cli.h"

#include <cstdio>

#include "core/image/reference.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"
#include "kubelet-like-agent/images/image_import.h"
#include "kubelet-like-agent/images/image_store.h"
#include "kubelet-like-agent/images/puller.h"

namespace berth::agent::images {
namespace {

constexpr const char* kUsage =
    "usage: berth image pull REFERENCE [--registry-config FILE]\n"
    "       berth image import ARCHIVE|DIR [NAME]   (OCI image layout, or a `docker save` archive)\n"
    "       berth image ls\n"
    "       berth image rm NAME|ID...\n"
    "options: --root-dir DIR (the agent's; the store is DIR/images) or --image-dir DIR\n"
    "         (default: $BERTH_IMAGE_DIR, else /var/lib/berth-agent/images)\n";

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

std::string HumanSize(int64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
  return buf;
}

}  // namespace

int RunImageCommand(const std::vector<std::string>& args) {
  const char* env_dir = std::getenv("BERTH_IMAGE_DIR");
  std::string dir = env_dir && *env_dir ? env_dir : "/var/lib/berth-agent/images";
  std::string registry_config;
  std::vector<std::string> words;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* flag) -> const std::string* {
      if (a == flag && i + 1 < args.size()) return &args[++i];
      return nullptr;
    };
    if (const std::string* v = value("--image-dir")) dir = *v;
    else if (const std::string* v = value("--root-dir")) dir = *v + "/images";
    else if (const std::string* v = value("--registry-config")) registry_config = *v;
    else if (a == "-h" || a == "--help") return std::fputs(kUsage, stdout), 0;
    else words.push_back(a);
  }
  if (words.empty()) return std::fputs(kUsage, stderr), 2;
  ImageStore store(dir);
  if (absl::Status s = store.Open(); !s.ok()) return Fail(s);
  const std::string& verb = words[0];
  if (verb == "pull" && words.size() == 2) {
    RegistryConfig config;
    if (!registry_config.empty()) {
      auto loaded = LoadRegistryConfig(registry_config);
      if (!loaded.ok()) return Fail(loaded.status());
      config = *std::move(loaded);
    }
    ImagePuller puller(store, config);
    auto pulled = puller.Pull(words[1]);
    if (!pulled.ok()) return Fail(pulled.status());
    std::printf("%s: pulled %s (%s fetched in %.2fs)\n", words[1].c_str(), pulled->image.id.c_str(),
                HumanSize(pulled->bytes_fetched).c_str(), absl::ToDoubleSeconds(pulled->took));
    return 0;
  }
  if (verb == "import" && (words.size() == 2 || words.size() == 3)) {
    auto imported = ImportImage(store, words[1], words.size() == 3 ? words[2] : "",
                                absl::ToUnixSeconds(RealClock::Get().Now()));
    if (!imported.ok()) return Fail(imported.status());
    for (const ImageRecord& r : *imported) {
      std::printf("imported %s %s\n", r.id.c_str(), r.names.empty() ? "(no name)" : Join(r.names, " ").c_str());
    }
    return 0;
  }
  if ((verb == "ls" || verb == "list") && words.size() == 1) {
    std::printf("%-60s %-15s %s\n", "IMAGE", "IMAGE ID", "SIZE");
    for (const ImageRecord& r : store.List()) {
      std::string id = std::string(r.id.substr(7, 13));
      std::string size = HumanSize(r.size);
      if (r.names.empty()) std::printf("%-60s %-15s %s\n", "<none>", id.c_str(), size.c_str());
      for (const std::string& n : r.names) {
        if (n.find('@') != std::string::npos && r.names.size() > 1) continue;  // the digest name of a tagged image
        std::printf("%-60s %-15s %s\n", n.c_str(), id.c_str(), size.c_str());
      }
    }
    return 0;
  }
  if ((verb == "rm" || verb == "rmi") && words.size() >= 2) {
    int code = 0;
    for (size_t i = 1; i < words.size(); ++i) {
      // A short name is the user's spelling of a normalized one.
      std::string name = words[i];
      if (auto ref = image::ParseReference(name); ref.ok() && name.rfind("sha256:", 0) != 0) name = ref->Normalized();
      absl::Status s = store.Remove(name);
      if (!s.ok() && name != words[i]) s = store.Remove(words[i]);  // an ID prefix parses as a name too
      if (!s.ok()) {
        Fail(s);
        code = 1;
      } else {
        std::printf("Deleted: %s\n", words[i].c_str());
      }
    }
    return code;
  }
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace berth::agent::images
