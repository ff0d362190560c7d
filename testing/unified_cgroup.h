#pragma once
// File: testing/unified_cgroup.h
// Where this process sits in the unified (cgroup v2) hierarchy, for tests that create cgroups
// of their own under it.

#include <sstream>
#include <string>

#include "testing/slurp.h"

namespace berth::testing {

// The mount point of the unified hierarchy joined with this process's cgroup in it ("" if none
// is mounted).
inline std::string OwnUnifiedCgroup() {
  std::string mount;
  std::istringstream mounts(Slurp("/proc/self/mounts"));
  std::string dev, point, type, rest;
  while (mounts >> dev >> point >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") mount = point;
  }
  if (mount.empty()) return "";
  std::istringstream own(Slurp("/proc/self/cgroup"));
  std::string line;
  while (std::getline(own, line)) {
    if (line.rfind("0::", 0) == 0) return mount + (line.substr(3) == "/" ? "" : line.substr(3));
  }
  return "";
}

}  // namespace berth::testing
