#include "kubelet-like-agent/volumes/volume_manager.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "absl/strings/escaping.h"
#include "core/json/codec.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;

// A reader sees the old file or the new one, never half of one (a token above all).
absl::Status WriteAtomically(const fs::path& path, const VolumeFile& file) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path.parent_path() / (".." + path.filename().string() + ".tmp");
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return absl::UnavailableError(StrCat("cannot write ", tmp.string()));
    f << file.content;
    if (!f.flush()) return absl::UnavailableError(StrCat("cannot write ", tmp.string()));
  }
  if (chmod(tmp.c_str(), static_cast<mode_t>(file.mode & 07777)) != 0) {
    return absl::UnavailableError(StrCat("chmod ", tmp.string(), ": ", std::strerror(errno)));
  }
  fs::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(StrCat("rename ", path.string(), ": ", ec.message()));
  return absl::OkStatus();
}

bool IsTrue(const json::Value* v) { return v && v->is_bool() && v->as_bool(); }

// A mode field (defaultMode, items[].mode): Kubernetes' 0644 when unset; only permission bits.
int ModeOr(const json::Value* v, int fallback) {
  if (v == nullptr || !v->is_int()) return fallback;
  return static_cast<int>(v->as_int() & 0777);
}

}  // namespace

std::string ExpandVars(const std::string& text, const std::map<std::string, std::string>& env) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '(') {
      size_t close = text.find(')', i + 2);
      if (close == std::string::npos) {
        out += text.substr(i);
        break;
      }
      std::string name = text.substr(i + 2, close - i - 2);
      auto it = env.find(name);
      out += it != env.end() ? it->second : text.substr(i, close - i + 1);
      i = close;
    } else {
      out += text[i];
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> VolumeManager::SourceData(const std::string& kind,
                                                                             const std::string& ns,
                                                                             const std::string& name, bool optional) {
  std::map<std::string, std::string> data;
  if (api_ == nullptr) return data;
  const client::Resource& r = kind == "secret" ? client::resources::kSecrets : client::resources::kConfigMaps;
  auto obj = api_->Get(r, ns, name);
  if (!obj.ok()) {
    if (obj.status().code() == absl::StatusCode::kNotFound) {
      if (optional) return data;
      return absl::NotFoundError(StrCat(kind, " \"", name, "\" not found"));
    }
    return obj.status();
  }
  if (const json::Value* d = obj->Find("data"); d && d->is_object()) {
    for (const auto& [k, v] : d->as_object()) {
      std::string value = v.is_string() ? v.as_string() : "";
      if (kind == "secret") {
        std::string decoded;
        if (!absl::Base64Unescape(Sv(std::string_view(value)), &decoded)) {
          return absl::InvalidArgumentError(StrCat("secret \"", name, "\" key ", k, " is not base64"));
        }
        value = std::move(decoded);
      }
      data[k] = std::move(value);
    }
  }
  if (const json::Value* d = obj->Find(kind == "secret" ? "stringData" : "binaryData"); d && d->is_object()) {
    for (const auto& [k, v] : d->as_object()) {
      std::string value = v.is_string() ? v.as_string() : "";
      if (kind != "secret") {
        std::string decoded;
        if (absl::Base64Unescape(Sv(std::string_view(value)), &decoded)) value = std::move(decoded);
      }
      data[k] = std::move(value);
    }
  }
  return data;
}

namespace {

// A downward API fieldPath's value, as the kubelet renders it (labels and annotations whole:
// key="value" lines, sorted, for volumes).
absl::StatusOr<std::string> FieldValue(const json::Value& pod, const std::string& path, const PodFields& fields) {
  if (path == "metadata.name") return pod.GetString({"metadata", "name"});
  if (path == "metadata.namespace") return pod.GetString({"metadata", "namespace"});
  if (path == "metadata.uid") return pod.GetString({"metadata", "uid"});
  if (path == "spec.nodeName") return fields.node_name;
  if (path == "spec.serviceAccountName") return pod.GetString({"spec", "serviceAccountName"});
  if (path == "status.podIP") return fields.pod_ip;
  if (path == "status.hostIP") return fields.host_ip;
  if (path == "metadata.labels" || path == "metadata.annotations") {
    std::map<std::string, std::string> sorted;
    if (const json::Value* m = pod.Get({"metadata", path == "metadata.labels" ? "labels" : "annotations"}); m && m->is_object()) {
      for (const auto& [k, v] : m->as_object()) sorted[k] = v.is_string() ? v.as_string() : "";
    }
    std::string out;
    for (const auto& [k, v] : sorted) out += StrCat(k, "=", json::Quote(v), "\n");
    return out;
  }
  if (path.rfind("metadata.labels['", 0) == 0 || path.rfind("metadata.annotations['", 0) == 0) {
    bool labels = path[9] == 'l';
    size_t start = path.find('\'') + 1;
    std::string key = path.substr(start, path.rfind('\'') - start);
    return pod.GetString({"metadata", labels ? "labels" : "annotations", key});
  }
  return absl::InvalidArgumentError(StrCat("unsupported fieldPath \"", path, "\""));
}

}  // namespace

absl::StatusOr<VolumeFiles> VolumeManager::DownwardFiles(const json::Value& pod, const json::Value& items,
                                                         const std::string& volume, int default_mode) {
  VolumeFiles files;
  if (!items.is_array()) return files;
  PodFields fields{pod.GetString({"spec", "nodeName"}), node_address_, node_address_};
  for (const json::Value& item : items.as_array()) {
    std::string path = item.GetString({"path"});
    if (const json::Value* ref = item.Find("fieldRef")) {
      auto value = FieldValue(pod, ref->GetString({"fieldPath"}), fields);
      if (!value.ok()) return absl::InvalidArgumentError(StrCat("volume ", volume, " item ", path, ": ", value.status().message()));
      files[path] = {*value, ModeOr(item.Find("mode"), default_mode)};
    } else {
      return absl::InvalidArgumentError(StrCat("volume ", volume, " item ", path,
                                               ": only fieldRef items are supported (resourceFieldRef is not yet)"));
    }
  }
  return files;
}

absl::StatusOr<VolumeFiles> VolumeManager::KeyFiles(const std::string& kind, const std::string& ns, const json::Value& src,
                                                    const std::string& object, int default_mode) {
  // With the fake runtime (hollow nodes) nothing reads the files: don't ask the API for them.
  if (api_ == nullptr) return VolumeFiles{};
  auto data = SourceData(kind, ns, object, IsTrue(src.Find("optional")));
  if (!data.ok()) return data.status();
  VolumeFiles files;
  if (const json::Value* items = src.Find("items"); items && items->is_array() && items->size() > 0) {
    for (const json::Value& item : items->as_array()) {
      auto it = data->find(item.GetString({"key"}));
      if (it == data->end()) {
        if (IsTrue(src.Find("optional"))) continue;
        return absl::NotFoundError(StrCat("key \"", item.GetString({"key"}), "\" not found in ", object));
      }
      files[item.GetString({"path"})] = {it->second, ModeOr(item.Find("mode"), default_mode)};
    }
  } else {
    for (auto& [key, value] : *data) files[key] = {std::move(value), default_mode};
  }
  return files;
}

absl::Status VolumeManager::WriteFiles(const std::string& name, const fs::path& dir, const VolumeFiles& files) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::set<std::string> keep;
  for (const auto& [rel, file] : files) {
    if (rel.empty() || rel.find("..") != std::string::npos || rel[0] == '/') {
      return absl::InvalidArgumentError(StrCat("volume ", name, ": bad item path \"", rel, "\""));
    }
    fs::path target = dir / rel;
    fs::create_directories(target.parent_path(), ec);
    std::ifstream current(target, std::ios::binary);
    std::string existing((std::istreambuf_iterator<char>(current)), std::istreambuf_iterator<char>());
    struct stat st;
    bool same_mode = stat(target.c_str(), &st) == 0 && static_cast<int>(st.st_mode & 07777) == (file.mode & 07777);
    if (!current || existing != file.content || !same_mode) {
      if (absl::Status s = WriteAtomically(target, file); !s.ok()) return s;
    }
    keep.insert(target.string());
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && !keep.count(entry.path().string())) fs::remove(entry.path(), ec);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> VolumeManager::Prepare(const json::Value& pod) {
  std::map<std::string, std::string> paths;
  std::string uid = pod.GetString({"metadata", "uid"});
  std::string ns = pod.GetString({"metadata", "namespace"});
  const json::Value* volumes = pod.Get({"spec", "volumes"});
  if (volumes == nullptr || !volumes->is_array()) return paths;
  std::error_code ec;
  // fsGroup: the volumes Berth makes (not hostPath) belong to that group, as the kubelet's
  // volume ownership management does.
  std::optional<gid_t> fs_group;
  if (const json::Value* g = pod.Get({"spec", "securityContext", "fsGroup"}); g && g->is_int() && g->as_int() >= 0) {
    fs_group = static_cast<gid_t>(g->as_int());
  }
  for (const json::Value& v : volumes->as_array()) {
    std::string name = v.GetString({"name"});
    fs::path dir = fs::path(PodDir(uid)) / "volumes" / name;
    if (v.Find("emptyDir")) {
      bool created = !fs::exists(dir, ec);
      fs::create_directories(dir, ec);
      if (ec) return absl::UnavailableError(StrCat("emptyDir ", name, ": ", ec.message()));
      // Kubernetes' emptyDir is world-writable (0777), so any container user can use it.
      if (created) fs::permissions(dir, fs::perms::all, ec);
      if (created && fs_group) GiveToGroup(dir, *fs_group);
      paths[name] = dir.string();
    } else if (const json::Value* hp = v.Find("hostPath")) {
      std::string path = hp->GetString({"path"});
      if (absl::Status s = CheckHostPath(path, hp->GetString({"type"})); !s.ok()) return s;
      paths[name] = path;
    } else if (v.Find("configMap") || v.Find("secret")) {
      bool secret = v.Find("secret") != nullptr;
      const json::Value& src = secret ? *v.Find("secret") : *v.Find("configMap");
      auto files = KeyFiles(secret ? "secret" : "configmap", ns, src, secret ? src.GetString({"secretName"}) : src.GetString({"name"}),
                            ModeOr(src.Find("defaultMode"), 0644));
      if (!files.ok()) return files.status();
      if (secret) BERTH_RETURN_IF_ERROR(EnsureMemoryBacked(dir));
      if (absl::Status s = WriteFiles(name, dir, *files); !s.ok()) return s;
      if (fs_group) GiveToGroup(dir, *fs_group);
      paths[name] = dir.string();
    } else if (const json::Value* dw = v.Find("downwardAPI")) {
      static const json::Value kNone = json::Value::MakeArray();
      auto files = DownwardFiles(pod, dw->Find("items") ? *dw->Find("items") : kNone, name, ModeOr(dw->Find("defaultMode"), 0644));
      if (!files.ok()) return files.status();
      if (absl::Status s = WriteFiles(name, dir, *files); !s.ok()) return s;
      if (fs_group) GiveToGroup(dir, *fs_group);
      paths[name] = dir.string();
    } else if (const json::Value* projected = v.Find("projected")) {
      VolumeFiles files;
      const int mode = ModeOr(projected->Find("defaultMode"), 0644);
      const json::Value* sources = projected->Find("sources");
      for (const json::Value& source : sources && sources->is_array() ? sources->as_array() : json::Array{}) {
        absl::StatusOr<VolumeFiles> part;
        if (const json::Value* cm = source.Find("configMap")) {
          part = KeyFiles("configmap", ns, *cm, cm->GetString({"name"}), mode);
        } else if (const json::Value* sec = source.Find("secret")) {
          part = KeyFiles("secret", ns, *sec, sec->GetString({"name"}), mode);
        } else if (const json::Value* dw = source.Find("downwardAPI")) {
          static const json::Value kNone = json::Value::MakeArray();
          part = DownwardFiles(pod, dw->Find("items") ? *dw->Find("items") : kNone, name, mode);
        } else if (const json::Value* token = source.Find("serviceAccountToken")) {
          part = TokenFiles(pod, name, *token, mode);
        } else {
          return absl::InvalidArgumentError(StrCat("volume ", name, ": projected sources supported are configMap, secret, "
                                                   "downwardAPI and serviceAccountToken (not clusterTrustBundle)"));
        }
        if (!part.ok()) return part.status();
        for (auto& [rel, file] : *part) files[rel] = std::move(file);
      }
      BERTH_RETURN_IF_ERROR(EnsureMemoryBacked(dir));
      if (absl::Status s = WriteFiles(name, dir, files); !s.ok()) return s;
      if (fs_group) GiveToGroup(dir, *fs_group);
      paths[name] = dir.string();
    } else {
      return absl::InvalidArgumentError(StrCat("volume ", name, ": unsupported volume source (berth supports emptyDir, "
                                               "hostPath, configMap, secret, downwardAPI, projected)"));
    }
  }
  return paths;
}

void GiveToGroup(const std::filesystem::path& dir, gid_t gid) {
  // Directories get the group and the setgid bit (new files inherit the group) and group
  // write; files the group and group read, as the kubelet's SetVolumeOwnership does.
  auto give = [gid](const fs::path& p, bool is_dir) {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return;
    if (lchown(p.c_str(), static_cast<uid_t>(-1), gid) != 0) return;
    mode_t mode = st.st_mode & 07777;
    mode |= is_dir ? (S_ISGID | S_IRGRP | S_IWGRP | S_IXGRP) : S_IRGRP;
    chmod(p.c_str(), mode);
  };
  std::error_code ec;
  give(dir, true);
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    give(it->path(), it->is_directory(ec) && !it->is_symlink(ec));
  }
}

absl::Status CheckHostPath(const std::string& path, const std::string& type) {
  std::error_code ec;
  if (type == "DirectoryOrCreate" && !fs::exists(path, ec)) {
    fs::create_directories(path, ec);
    if (ec) return absl::UnavailableError(StrCat("hostPath ", path, ": ", ec.message()));
    fs::permissions(path, fs::perms(0755), ec);
  }
  if (type == "FileOrCreate" && !fs::exists(path, ec)) {
    fs::create_directories(fs::path(path).parent_path(), ec);
    std::ofstream touch(path);
    if (!touch) return absl::UnavailableError(StrCat("hostPath ", path, ": cannot create the file"));
  }
  struct stat st;
  bool exists = stat(path.c_str(), &st) == 0;
  auto fail = [&](const char* what) {
    return absl::NotFoundError(StrCat("hostPath type check failed: ", path, " is not ", what));
  };
  if (type.empty() || type == "DirectoryOrCreate" || type == "FileOrCreate") {
    if (type == "DirectoryOrCreate" && (!exists || !S_ISDIR(st.st_mode))) return fail("a directory");
    if (type == "FileOrCreate" && (!exists || !S_ISREG(st.st_mode))) return fail("a file");
    return absl::OkStatus();
  }
  if (type == "Directory") return exists && S_ISDIR(st.st_mode) ? absl::OkStatus() : fail("a directory");
  if (type == "File") return exists && S_ISREG(st.st_mode) ? absl::OkStatus() : fail("a file");
  if (type == "Socket") return exists && S_ISSOCK(st.st_mode) ? absl::OkStatus() : fail("a socket file");
  if (type == "CharDevice") return exists && S_ISCHR(st.st_mode) ? absl::OkStatus() : fail("a character device");
  if (type == "BlockDevice") return exists && S_ISBLK(st.st_mode) ? absl::OkStatus() : fail("a block device");
  return absl::InvalidArgumentError(StrCat("hostPath ", path, ": unknown type \"", type, "\""));
}

absl::StatusOr<std::string> VolumeManager::KeyRef(const std::string& kind, const std::string& ns, const json::Value& ref) {
  auto data = SourceData(kind, ns, ref.GetString({"name"}), IsTrue(ref.Find("optional")));
  if (!data.ok()) return data.status();
  auto it = data->find(ref.GetString({"key"}));
  if (it == data->end()) {
    if (IsTrue(ref.Find("optional")) || api_ == nullptr) return std::string();
    return absl::NotFoundError(StrCat("couldn't find key ", ref.GetString({"key"}), " in ", kind, " ", ns, "/",
                                      ref.GetString({"name"})));
  }
  return it->second;
}

absl::StatusOr<std::vector<std::string>> VolumeManager::Env(const json::Value& pod, const json::Value& container,
                                                            const PodFields& fields) {
  std::vector<std::pair<std::string, std::string>> ordered;
  std::map<std::string, std::string> by_name;
  std::string ns = pod.GetString({"metadata", "namespace"});
  auto set = [&](const std::string& k, const std::string& v) {
    if (!by_name.count(k)) ordered.emplace_back(k, v);
    by_name[k] = v;
  };
  if (const json::Value* env_from = container.Find("envFrom"); env_from && env_from->is_array()) {
    for (const json::Value& src : env_from->as_array()) {
      bool secret = src.Find("secretRef") != nullptr;
      const json::Value* ref = secret ? src.Find("secretRef") : src.Find("configMapRef");
      if (ref == nullptr) continue;
      auto data = SourceData(secret ? "secret" : "configmap", ns, ref->GetString({"name"}), IsTrue(ref->Find("optional")));
      if (!data.ok()) return data.status();
      for (const auto& [k, v] : *data) set(src.GetString({"prefix"}) + k, v);
    }
  }
  if (const json::Value* env = container.Find("env"); env && env->is_array()) {
    for (const json::Value& e : env->as_array()) {
      std::string name = e.GetString({"name"});
      const json::Value* from = e.Find("valueFrom");
      if (from == nullptr) {
        set(name, ExpandVars(e.GetString({"value"}), by_name));
        continue;
      }
      if (const json::Value* ref = from->Find("configMapKeyRef")) {
        auto v = KeyRef("configmap", ns, *ref);
        if (!v.ok()) return v.status();
        set(name, *v);
      } else if (const json::Value* ref = from->Find("secretKeyRef")) {
        auto v = KeyRef("secret", ns, *ref);
        if (!v.ok()) return v.status();
        set(name, *v);
      } else if (const json::Value* ref = from->Find("fieldRef")) {
        std::string path = ref->GetString({"fieldPath"});
        if (path == "metadata.labels" || path == "metadata.annotations") {
          return absl::InvalidArgumentError(StrCat("env ", name, ": fieldRef ", path, " is for volumes only"));
        }
        auto value = FieldValue(pod, path, fields);
        if (!value.ok()) return absl::InvalidArgumentError(StrCat("env ", name, ": ", value.status().message()));
        set(name, *value);
      } else {
        return absl::InvalidArgumentError(StrCat("env ", name, ": unsupported valueFrom (berth supports configMapKeyRef, "
                                                 "secretKeyRef, fieldRef)"));
      }
    }
  }
  std::vector<std::string> out;
  bool has_path = by_name.count("PATH") > 0;
  if (!has_path) out.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  out.push_back("HOSTNAME=" + pod.GetString({"metadata", "name"}));
  for (const auto& [k, v] : ordered) out.push_back(k + "=" + by_name[k]);
  return out;
}

absl::StatusOr<VolumeFiles> VolumeManager::TokenFiles(const json::Value& pod, const std::string& volume,
                                                      const json::Value& src, int default_mode) {
  VolumeFiles files;
  std::string path = src.GetString({"path"});
  if (path.empty()) return absl::InvalidArgumentError(StrCat("volume ", volume, ": serviceAccountToken needs a path"));
  if (api_ == nullptr) return files;  // hollow nodes run no workload that could use it
  const std::string uid = pod.GetString({"metadata", "uid"});
  const std::string key = StrCat(uid, "/", volume, "/", path);
  const absl::Time now = options_.clock->Now();
  {
    std::lock_guard<std::mutex> lock(tokens_mu_);
    auto held = tokens_.find(key);
    // The kubelet's rule: a token is renewed once 80% of its life has passed (or after a day).
    if (held != tokens_.end()) {
      absl::Duration life = held->second.expires - held->second.issued;
      absl::Time renew_at = held->second.issued + std::min(life * 0.8, absl::Hours(24));
      if (now < renew_at) {
        files[path] = {held->second.token, default_mode};
        return files;
      }
    }
  }
  int64_t seconds = 3600;
  if (const json::Value* e = src.Find("expirationSeconds"); e && e->is_int()) seconds = e->as_int();
  json::Value request = json::Value::MakeObject();
  request.Set("apiVersion", "authentication.k8s.io/v1");
  request.Set("kind", "TokenRequest");
  json::Value& spec = request.Ensure({"spec"});
  if (std::string audience = src.GetString({"audience"}); !audience.empty()) {
    spec.Set("audiences", json::Value(json::Array{json::Value(audience)}));
  }
  spec.Set("expirationSeconds", seconds);
  json::Value& ref = spec.Ensure({"boundObjectRef"});
  ref.Set("apiVersion", "v1");
  ref.Set("kind", "Pod");
  ref.Set("name", pod.GetString({"metadata", "name"}));
  ref.Set("uid", uid);
  std::string account = pod.GetString({"spec", "serviceAccountName"}, "default");
  auto answer = api_->CreateSubresource(client::resources::kServiceAccounts, pod.GetString({"metadata", "namespace"}), account,
                                        "token", request);
  if (!answer.ok()) {
    return absl::Status(answer.status().code(), StrCat("failed to fetch token: ", answer.status().message()));
  }
  std::string token = answer->GetString({"status", "token"});
  if (token.empty()) return absl::UnavailableError("failed to fetch token: the answer carries none");
  // The lifetime the server granted (it may shorten what was asked), counted on this node's clock
  // from when it was asked: a skew between the clocks cannot make the agent renew late.
  int64_t granted = answer->GetInt({"spec", "expirationSeconds"});
  absl::Time expires = now + absl::Seconds(granted > 0 ? granted : seconds);
  {
    std::lock_guard<std::mutex> lock(tokens_mu_);
    tokens_[key] = {token, now, expires};
  }
  files[path] = {std::move(token), default_mode};
  return files;
}

absl::Status VolumeManager::EnsureMemoryBacked(const fs::path& dir) {
  if (!options_.memory_backed) return absl::OkStatus();
  std::error_code ec;
  fs::create_directories(dir, ec);
  struct stat own, parent;
  if (stat(dir.c_str(), &own) == 0 && stat(dir.parent_path().c_str(), &parent) == 0 && own.st_dev != parent.st_dev) {
    return absl::OkStatus();  // mounted already (by this agent before a restart)
  }
  if (mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") != 0) {
    return absl::UnavailableError(StrCat("mounting a tmpfs on ", dir.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

namespace {

// Each volume of the pod that is a mount point of its own (secret and projected tmpfs).
void UnmountVolumes(const fs::path& pod_dir) {
  std::error_code ec;
  struct stat parent;
  if (stat((pod_dir / "volumes").c_str(), &parent) != 0) return;
  for (const auto& entry : fs::directory_iterator(pod_dir / "volumes", ec)) {
    struct stat st;
    // A different device than its directory: something is mounted there.
    if (stat(entry.path().c_str(), &st) == 0 && st.st_dev != parent.st_dev) umount2(entry.path().c_str(), MNT_DETACH);
  }
}

}  // namespace

void VolumeManager::UnmountAll() {
  {
    std::lock_guard<std::mutex> lock(tokens_mu_);
    tokens_.clear();
  }
  std::error_code ec;
  for (const auto& pod : fs::directory_iterator(pods_dir_, ec)) UnmountVolumes(pod.path());
}

absl::Status VolumeManager::Cleanup(const std::string& uid) {
  {
    std::lock_guard<std::mutex> lock(tokens_mu_);
    for (auto it = tokens_.lower_bound(uid + "/"); it != tokens_.end() && it->first.rfind(uid + "/", 0) == 0;) {
      it = tokens_.erase(it);
    }
  }
  // tmpfs volumes first: remove_all would empty them and then fail on the mount point.
  UnmountVolumes(PodDir(uid));
  std::error_code ec;
  fs::remove_all(PodDir(uid), ec);
  if (ec) return absl::UnavailableError(StrCat("removing ", PodDir(uid), ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace berth::agent
