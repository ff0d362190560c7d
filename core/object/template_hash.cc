#include "core/object/template_hash.h"

#include "core/json/codec.h"

namespace berth::object {

std::string TemplateHash(const json::Value& pod_template, int64_t collision_count) {
  std::string text = json::Serialize(pod_template);
  if (collision_count > 0) text += std::to_string(collision_count);
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string decimal = std::to_string(h);
  std::string out;
  for (char c : decimal) out.push_back(kAlphabet[static_cast<unsigned char>(c) % 27]);
  return out;
}

}  // namespace berth::object
