#pragma once
// File: controllers/runtime/expectations.h
// Creations and deletions a controller has issued but not yet seen in its informer cache
// (Kubernetes' ControllerExpectations). While any are outstanding the controller does not act
// on the cache again, so a lagging cache never makes it create duplicates. Expectations expire
// after a timeout in case an event was missed.

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "core/time/clock.h"

namespace berth::controllers {

class Expectations {
 public:
  explicit Expectations(const Clock& clock, std::chrono::seconds ttl = std::chrono::seconds(300))
      : clock_(clock), ttl_(ttl) {}

  void ExpectCreations(const std::string& key, int n);
  void ExpectDeletions(const std::string& key, int n);
  void CreationObserved(const std::string& key);
  void DeletionObserved(const std::string& key);
  // Creations that failed to be issued will never be observed.
  void LowerCreations(const std::string& key, int n);
  void LowerDeletions(const std::string& key, int n);
  bool Satisfied(const std::string& key) const;
  void Forget(const std::string& key);

 private:
  struct Pending {
    int adds = 0;
    int dels = 0;
    std::chrono::steady_clock::time_point since;
  };
  const Clock& clock_;
  const std::chrono::seconds ttl_;
  mutable std::mutex mu_;
  std::map<std::string, Pending> pending_;
};

}  // namespace berth::controllers
