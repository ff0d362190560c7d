#pragma once
// File: controllers/builtin/gc/custom_kinds.h
// Follows CustomResourceDefinitions so that the garbage collector covers custom resources too:
// an established CRD adds its kind (an informer over its storage version) to the collector, a
// deleted CRD removes it. Objects owned by a custom resource (the example TaskRun's pods) are then
// collected when their owner goes, like those of built-in owners.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "controllers/builtin/gc/garbage_collector.h"
#include "controllers/runtime/informer.h"
#include "core/client/api_client.h"

namespace berth::controllers::builtin {

extern const client::Resource kCustomResourceDefinitions;

class CustomKindWatcher {
 public:
  // `connection` is how to reach the API: each custom kind gets its own connection, so stopping one kind's
  // watch does not cut the streams of the others.
  CustomKindWatcher(client::ApiClient& api, client::Connection connection, GarbageCollector& gc);
  ~CustomKindWatcher();
  void Start();
  void Stop();

 private:
  void Follow(const json::Value& crd);
  void Forget(const json::Value& crd);

  const client::Connection connection_;
  GarbageCollector& gc_;
  Informer crds_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<client::ApiClient>> clients_;  // by "plural.group"; live for the process
  std::set<std::pair<std::string, std::string>> followed_;              // (group, plural) added to the collector
};

}  // namespace berth::controllers::builtin
