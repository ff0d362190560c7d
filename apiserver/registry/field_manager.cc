#include "apiserver/registry/field_manager.h"

#include <map>
#include <set>
#include <vector>

#include "core/patch/strategic_merge.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"

namespace berth::apiserver::registry {
namespace {

using Path = std::vector<std::string>;

bool Identity(const Path& p) {
  if (p.size() == 1 && (p[0] == "apiVersion" || p[0] == "kind" || p[0] == "status")) return true;
  return p.size() >= 2 && p[0] == "metadata" &&
         (p[1] == "name" || p[1] == "namespace" || p[1] == "managedFields" || p[1] == "resourceVersion" ||
          p[1] == "uid" || p[1] == "creationTimestamp" || p[1] == "generation");
}

void Leaves(const json::Value& v, Path& prefix, std::set<Path>& out) {
  if (v.is_object() && v.size() > 0) {
    for (const auto& [k, child] : v.as_object()) {
      prefix.push_back(k);
      Leaves(child, prefix, out);
      prefix.pop_back();
    }
    return;
  }
  if (!prefix.empty() && !Identity(prefix)) out.insert(prefix);
}

const json::Value* At(const json::Value& v, const Path& p) {
  const json::Value* cur = &v;
  for (const std::string& k : p) {
    cur = cur->is_object() ? cur->Find(k) : nullptr;
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

void Remove(json::Value& v, const Path& p) {
  json::Value* cur = &v;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    cur = cur->is_object() ? cur->Find(p[i]) : nullptr;
    if (cur == nullptr) return;
  }
  if (cur->is_object()) cur->Erase(p.back());
}

std::string Dotted(const Path& p) {
  std::string out;
  for (const std::string& k : p) out += "." + k;
  return out;
}

json::Value ToFieldsV1(const std::set<Path>& paths) {
  json::Value root = json::Value::MakeObject();
  for (const Path& p : paths) {
    json::Value* cur = &root;
    for (const std::string& k : p) {
      std::string key = "f:" + k;
      json::Value* next = cur->Find(key);
      if (next == nullptr) next = &cur->Set(key, json::Value::MakeObject());
      cur = next;
    }
  }
  return root;
}

void FromFieldsV1(const json::Value& f, Path& prefix, std::set<Path>& out) {
  if (!f.is_object()) return;
  bool leaf = true;
  for (const auto& [k, child] : f.as_object()) {
    if (k.rfind("f:", 0) != 0) continue;  // "." (the node itself), "k:", "v:" entries: not ours
    leaf = false;
    prefix.push_back(k.substr(2));
    FromFieldsV1(child, prefix, out);
    prefix.pop_back();
  }
  if (leaf && !prefix.empty()) out.insert(prefix);
}

}  // namespace

absl::StatusOr<json::Value> ApplyConfiguration(const json::Value* live, const json::Value& config,
                                               const ApplyRequest& request) {
  // Who owns what, from the live object's managedFields (Apply entries).
  std::map<std::string, std::set<Path>> owned;
  std::vector<json::Value> other_entries;  // entries we do not interpret are kept as they are
  if (live) {
    if (const json::Value* mf = live->Get({"metadata", "managedFields"}); mf && mf->is_array()) {
      for (const json::Value& e : mf->as_array()) {
        if (e.GetString({"operation"}) != "Apply") {
          other_entries.push_back(e);
          continue;
        }
        Path prefix;
        if (const json::Value* f = e.Find("fieldsV1")) FromFieldsV1(*f, prefix, owned[e.GetString({"manager"})]);
      }
    }
  }
  std::set<Path> applied;
  Path prefix;
  Leaves(config, prefix, applied);

  std::vector<std::string> conflicts;
  for (const Path& p : applied) {
    for (auto& [manager, fields] : owned) {
      if (manager == request.manager || !fields.count(p)) continue;
      const json::Value* have = live ? At(*live, p) : nullptr;
      const json::Value* want = At(config, p);
      if (have && want && *have == *want) continue;  // agreeing on a value is shared ownership
      if (request.force) {
        fields.erase(p);
      } else {
        conflicts.push_back(StrCat("conflict with \"", manager, "\": ", Dotted(p)));
      }
    }
  }
  if (!conflicts.empty()) {
    std::string msg = StrCat("Apply failed with ", conflicts.size(), conflicts.size() == 1 ? " conflict: " : " conflicts: ");
    for (size_t i = 0; i < conflicts.size(); ++i) StrAppend(&msg, i ? "\n" : "", conflicts[i]);
    return absl::AbortedError(msg);
  }

  json::Value result;
  if (live == nullptr) {
    result = config;
  } else {
    auto merged = patch::StrategicMergePatch(*live, config);
    if (!merged.ok()) return absl::InvalidArgumentError(merged.status().message());
    result = *std::move(merged);
    // Fields this manager applied before and no longer applies go, unless someone else owns them.
    for (const Path& p : owned[request.manager]) {
      if (applied.count(p)) continue;
      bool shared = false;
      for (const auto& [manager, fields] : owned) shared = shared || (manager != request.manager && fields.count(p));
      if (!shared) Remove(result, p);
    }
  }
  owned[request.manager] = applied;

  json::Value entries = json::Value::MakeArray();
  for (const auto& [manager, fields] : owned) {
    if (fields.empty()) continue;
    json::Value e = json::Value::MakeObject();
    e.Set("manager", manager);
    e.Set("operation", "Apply");
    e.Set("apiVersion", request.api_version);
    e.Set("time", FormatRfc3339(request.now));
    e.Set("fieldsType", "FieldsV1");
    e.Set("fieldsV1", ToFieldsV1(fields));
    entries.as_array().push_back(std::move(e));
  }
  for (json::Value& e : other_entries) entries.as_array().push_back(std::move(e));
  result.Ensure({"metadata"}).Set("managedFields", std::move(entries));
  return result;
}

}  // namespace berth::apiserver::registry
