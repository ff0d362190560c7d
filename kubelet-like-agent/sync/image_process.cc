#include "kubelet-like-agent/sync/image_process.h"

#include <charconv>
#include <fstream>
#include <map>

#include "core/strings/strings.h"

namespace berth::agent {
namespace {

std::optional<uint32_t> Number(std::string_view s) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// name -> (id, primary group) of an /etc/passwd or /etc/group in the image.
std::map<std::string, std::pair<uint32_t, uint32_t>> ReadIds(const std::vector<std::string>& layers, const char* file) {
  std::map<std::string, std::pair<uint32_t, uint32_t>> out;
  for (const std::string& layer : layers) {
    std::ifstream f(layer + "/etc/" + file);
    if (!f) continue;
    std::string line;
    while (std::getline(f, line)) {
      std::vector<std::string_view> fields = Split(line, ':');
      if (fields.size() < 3) continue;
      auto id = Number(fields[2]);
      auto group = fields.size() > 3 ? Number(fields[3]) : std::nullopt;
      if (id) out.emplace(std::string(fields[0]), std::make_pair(*id, group.value_or(*id)));
    }
    break;  // the topmost copy is the one the container sees
  }
  return out;
}

}  // namespace

std::vector<std::string> ResolveArgv(const std::vector<std::string>* command, const std::vector<std::string>* args,
                                     const std::vector<std::string>& entrypoint, const std::vector<std::string>& cmd) {
  std::vector<std::string> argv = command ? *command : entrypoint;
  if (args) {
    argv.insert(argv.end(), args->begin(), args->end());
  } else if (!command) {
    argv.insert(argv.end(), cmd.begin(), cmd.end());
  }
  return argv;
}

std::vector<std::string> MergeEnv(const std::vector<std::string>& image_env, const std::vector<std::string>& container_env) {
  std::vector<std::string> out;
  std::map<std::string, size_t> index;
  for (const auto* list : {&image_env, &container_env}) {
    for (const std::string& kv : *list) {
      std::string name = kv.substr(0, kv.find('='));
      auto it = index.find(name);
      if (it != index.end()) {
        out[it->second] = kv;
      } else {
        index[name] = out.size();
        out.push_back(kv);
      }
    }
  }
  return out;
}

ImageUser ResolveImageUser(const std::string& user, const std::vector<std::string>& layers) {
  ImageUser out;
  if (user.empty()) return out;
  std::string_view name = user, group;
  if (size_t colon = user.find(':'); colon != std::string::npos) {
    name = std::string_view(user).substr(0, colon);
    group = std::string_view(user).substr(colon + 1);
  }
  if (auto uid = Number(name)) {
    out.uid = uid;
  } else {
    auto users = ReadIds(layers, "passwd");
    auto it = users.find(std::string(name));
    if (it == users.end()) {
      out.unresolved_name = std::string(name);
    } else {
      out.uid = it->second.first;
      out.gid = it->second.second;
    }
  }
  if (!group.empty()) {
    if (auto gid = Number(group)) {
      out.gid = gid;
    } else {
      auto groups = ReadIds(layers, "group");
      auto it = groups.find(std::string(group));
      if (it != groups.end()) out.gid = it->second.first;
      else if (out.unresolved_name.empty()) out.unresolved_name = std::string(group);
    }
  }
  return out;
}

}  // namespace berth::agent
