#pragma once
// File: kubelet-like-agent/network/service_table_cache.h
// The Service table kept per Service, so that a sync rebuilds and diffs only the Services whose
// object or EndpointSlices changed (by resourceVersion). Rebuilding the whole table from every
// Service and slice on each sync made one change cost O(cluster): under churn with 100 Services
// and 1,000 endpoints a sync took tens of milliseconds and changes queued behind it (B3).
// Each Service's part of the table (its chains, affinity sets and map elements) has names and
// keys of its own, so the parts are independent and one transaction can carry several diffs.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/json/value.h"
#include "kubelet-like-agent/network/service_rules.h"

namespace berth::agent::network {

class ServiceTableCache {
 public:
  explicit ServiceTableCache(ServiceRulesOptions options) : options_(options) {}

  // Brings the desired table up to date with these objects: Services whose object and slices
  // kept their resourceVersions since the last call are not looked at again.
  void Refresh(const std::vector<const json::Value*>& services, const std::vector<const json::Value*>& slices);
  // The nft script that turns what is programmed into what is desired: the whole table when
  // nothing is known to be programmed, else the changed Services' diffs ("" when none).
  std::string Script() const;
  // The script went in: the desired table is what is programmed now.
  void MarkProgrammed();
  // A sync failed: nothing is known to be programmed, so the next script is the whole table.
  void ForgetProgrammed() { programmed_valid_ = false; }
  bool HasProgrammed() const { return programmed_valid_; }
  // The desired table as one (tests, the whole script).
  ServiceTable Desired() const;

 private:
  struct Entry {
    std::string fingerprint;  // the Service's and its slices' resourceVersions
    ServiceTable table;       // this Service's part
  };
  const ServiceRulesOptions options_;
  std::map<std::string, Entry> desired_;          // namespace/name -> part
  std::map<std::string, ServiceTable> programmed_;  // what the last script put in place
  std::set<std::string> changed_;                 // keys where desired_ and programmed_ differ
  bool programmed_valid_ = false;
};

}  // namespace berth::agent::network
