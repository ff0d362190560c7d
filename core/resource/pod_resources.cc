#include "core/resource/pod_resources.h"

#include <algorithm>

#include "core/resource/quantity.h"

namespace berth::resource {
namespace {

// One container's list: `field` ("requests" or "limits"); for requests, a resource with only a
// limit requests its limit (the apiserver defaults it so; older stored pods are read the same way).
ResourceList ContainerList(const json::Value& c, const char* field) {
  ResourceList out;
  auto read = [&](const char* which) {
    if (const json::Value* list = c.Get({"resources", which}); list && list->is_object()) {
      for (const auto& [name, q] : list->as_object()) out[name] = MilliOf(&q);
    }
  };
  if (std::string_view(field) == "requests") read("limits");
  read(field);
  return out;
}

ResourceList PodList(const json::Value& pod, const char* field) {
  ResourceList sum;
  if (const json::Value* cs = pod.Get({"spec", "containers"}); cs && cs->is_array()) {
    for (const json::Value& c : cs->as_array()) {
      for (const auto& [name, milli] : ContainerList(c, field)) sum[name] += milli;
    }
  }
  if (const json::Value* cs = pod.Get({"spec", "initContainers"}); cs && cs->is_array()) {
    for (const json::Value& c : cs->as_array()) {
      for (const auto& [name, milli] : ContainerList(c, field)) sum[name] = std::max(sum[name], milli);
    }
  }
  if (const json::Value* overhead = pod.Get({"spec", "overhead"}); overhead && overhead->is_object()) {
    for (const auto& [name, q] : overhead->as_object()) {
      if (sum.count(name) || std::string_view(field) == "requests") sum[name] += MilliOf(&q);
    }
  }
  std::erase_if(sum, [](const auto& kv) { return kv.second == 0; });
  return sum;
}

}  // namespace

ResourceList PodRequests(const json::Value& pod) { return PodList(pod, "requests"); }
ResourceList PodLimits(const json::Value& pod) { return PodList(pod, "limits"); }

std::string FormatMilli(int64_t milli, const std::string& like) {
  if (milli % 1000 != 0) return std::to_string(milli) + "m";
  int64_t units = milli / 1000;
  bool binary = like.size() >= 2 && like.back() == 'i';
  if (binary && units != 0) {
    static constexpr const char* kBinary[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int k = -1;
    while (k + 1 < 6 && units % 1024 == 0) {
      units /= 1024;
      ++k;
    }
    if (k >= 0) return std::to_string(units) + kBinary[k];
  }
  return std::to_string(units);
}

}  // namespace berth::resource
