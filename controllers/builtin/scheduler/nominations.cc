// File: controllers/builtin/scheduler/nominations.cc
#include "controllers/builtin/scheduler/nominations.h"

namespace berth::controllers::builtin {

void Nominations::Add(const std::string& key, const std::string& node, const RunningPod& pod) {
  Remove(key);
  by_pod_[key] = {node, pod, {}};
  by_node_[node].insert(key);
  std::lock_guard<std::mutex> lock(keys_mu_);
  keys_.insert(key);
}

bool Nominations::Remove(const std::string& key) {
  auto it = by_pod_.find(key);
  if (it == by_pod_.end()) return false;
  if (auto n = by_node_.find(it->second.node); n != by_node_.end()) {
    n->second.erase(key);
    if (n->second.empty()) by_node_.erase(n);
  }
  by_pod_.erase(it);
  std::lock_guard<std::mutex> lock(keys_mu_);
  keys_.erase(key);
  return true;
}

const Nomination* Nominations::Find(const std::string& key) const {
  auto it = by_pod_.find(key);
  return it == by_pod_.end() ? nullptr : &it->second;
}

void Nominations::AddVictim(const std::string& key, const std::string& victim) {
  if (auto it = by_pod_.find(key); it != by_pod_.end()) it->second.victims.push_back(victim);
}

bool Nominations::MarkSwept(const std::string& key) {
  auto it = by_pod_.find(key);
  if (it == by_pod_.end() || it->second.swept) return false;
  it->second.swept = true;
  return true;
}

const std::set<std::string>* Nominations::OnNode(const std::string& node) const {
  auto it = by_node_.find(node);
  return it == by_node_.end() ? nullptr : &it->second;
}

bool Nominations::IsNominated(const std::string& key) const {
  std::lock_guard<std::mutex> lock(keys_mu_);
  return keys_.contains(key);
}

}  // namespace berth::controllers::builtin
