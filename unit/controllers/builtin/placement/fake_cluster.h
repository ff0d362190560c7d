#pragma once
// File: unit/controllers/builtin/placement/fake_cluster.h
// A ClusterView over plain vectors, with nodes and pods written as JSON text.

#include <map>
#include <string>
#include <vector>

#include "controllers/builtin/placement/cluster_view.h"
#include "core/json/codec.h"

namespace berth::controllers::builtin::testing {

inline json::Value ParseOrDie(const std::string& text) {
  auto v = json::Parse(text);
  if (!v.ok()) std::abort();
  return *v;
}

class FakeCluster final : public ClusterView {
 public:
  // A node named `name` with `labels` (JSON object text); the hostname label is added.
  FakeCluster& Node(const std::string& name, const std::string& labels = "{}", const std::string& spec = "{}") {
    json::Value node = ParseOrDie(R"({"metadata":{"name":")" + name + R"("},"spec":)" + spec + "}");
    json::Value l = ParseOrDie(labels);
    l.Set("kubernetes.io/hostname", name);
    node.Ensure({"metadata"}).Set("labels", std::move(l));
    nodes_.push_back(std::move(node));
    return *this;
  }
  // A pod in namespace `ns` with `labels`, placed on `node`; `spec` is its spec (JSON text).
  FakeCluster& Pod(const std::string& node, const std::string& ns, const std::string& labels,
                   const std::string& spec = "{}", bool terminating = false) {
    json::Value pod = ParseOrDie(R"({"metadata":{"name":"p)" + std::to_string(pods_.size()) + R"(","namespace":")" + ns +
                                 R"(","labels":)" + labels + R"(},"spec":)" + spec + "}");
    if (terminating) pod.Ensure({"metadata"}).Set("deletionTimestamp", "2026-01-01T00:00:00Z");
    pods_.push_back({node, std::move(pod)});
    return *this;
  }
  FakeCluster& Namespace(const std::string& name, const std::string& labels) {
    namespaces_[name] = ParseOrDie(labels);
    return *this;
  }
  const json::Value& node(const std::string& name) const {
    for (const json::Value& n : nodes_) {
      if (n.GetString({"metadata", "name"}) == name) return n;
    }
    std::abort();
  }

  void ForEachNode(const NodeFn& fn) const override {
    for (const json::Value& n : nodes_) fn(n);
  }
  void ForEachPod(const PodFn& fn) const override {
    for (const auto& [node, pod] : pods_) fn(pod, this->node(node));
  }
  const json::Value* NamespaceLabels(const std::string& ns) const override {
    auto it = namespaces_.find(ns);
    return it == namespaces_.end() ? nullptr : &it->second;
  }

 private:
  std::vector<json::Value> nodes_;
  std::vector<std::pair<std::string, json::Value>> pods_;
  std::map<std::string, json::Value> namespaces_;
};

// The incoming pod: namespace `ns`, `labels`, `spec` (JSON text).
inline json::Value IncomingPod(const std::string& ns, const std::string& labels, const std::string& spec) {
  return ParseOrDie(R"({"metadata":{"name":"incoming","namespace":")" + ns + R"(","labels":)" + labels + R"(},"spec":)" + spec +
                    "}");
}

}  // namespace berth::controllers::builtin::testing
