#include "core/patch/patch.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/strings/strings.h"

namespace berth::patch {
namespace {

void MergeInto(json::Value& target, const json::Value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::Value::MakeObject();
  for (const auto& [key, value] : patch.as_object()) {
    if (value.is_null()) {
      target.Erase(key);
    } else {
      MergeInto(target[key], value);
    }
  }
}

absl::StatusOr<std::vector<std::string>> SplitPointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') {
    return absl::InvalidArgumentError(StrCat("JSON pointer \"", pointer, "\" must start with '/'"));
  }
  for (std::string_view t : Split(pointer.substr(1), '/')) {
    tokens.push_back(absl::StrReplaceAll(Sv(t), {{"~1", "/"}, {"~0", "~"}}));
  }
  return tokens;
}

absl::StatusOr<size_t> ArrayIndex(const std::string& token, size_t size, bool allow_end) {
  if (allow_end && token == "-") return size;
  size_t idx = 0;
  if (token.empty() || (token.size() > 1 && token[0] == '0') || !absl::SimpleAtoi(token, &idx)) {
    return absl::InvalidArgumentError(StrCat("invalid array index \"", token, "\""));
  }
  if (idx > size || (!allow_end && idx == size)) {
    return absl::InvalidArgumentError(StrCat("array index ", idx, " out of range"));
  }
  return idx;
}

// Resolves all but the last token; returns the parent container.
absl::StatusOr<json::Value*> Parent(json::Value& root, const std::vector<std::string>& tokens) {
  json::Value* cur = &root;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (cur->is_object()) {
      cur = cur->Find(tokens[i]);
      if (cur == nullptr) {
        return absl::InvalidArgumentError(StrCat("path segment \"", tokens[i], "\" not found"));
      }
    } else if (cur->is_array()) {
      auto idx = ArrayIndex(tokens[i], cur->as_array().size(), false);
      if (!idx.ok()) return idx.status();
      cur = &cur->as_array()[*idx];
    } else {
      return absl::InvalidArgumentError(StrCat("path segment \"", tokens[i], "\" is not a container"));
    }
  }
  return cur;
}

absl::StatusOr<const json::Value*> Find(json::Value& root, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return &root;
  auto parent = Parent(root, tokens);
  if (!parent.ok()) return parent.status();
  json::Value* p = *parent;
  if (p->is_object()) {
    const json::Value* v = p->Find(tokens.back());
    if (v == nullptr) return absl::InvalidArgumentError(StrCat("\"", tokens.back(), "\" not found"));
    return v;
  }
  if (p->is_array()) {
    auto idx = ArrayIndex(tokens.back(), p->as_array().size(), false);
    if (!idx.ok()) return idx.status();
    return &p->as_array()[*idx];
  }
  return absl::InvalidArgumentError("path does not name a container member");
}

absl::StatusOr<json::Value> Get(json::Value& root, const std::vector<std::string>& tokens) {
  auto v = Find(root, tokens);
  if (!v.ok()) return v.status();
  return **v;
}

// Roughly the serialized size of `v`, counting no further than `limit` (so a huge value costs
// no more than the budget it would exceed).
size_t SizeUpTo(const json::Value& root, size_t limit) {
  size_t size = 0;
  std::vector<const json::Value*> stack{&root};
  while (!stack.empty() && size <= limit) {
    const json::Value* v = stack.back();
    stack.pop_back();
    if (v->is_string()) {
      size += v->as_string().size() + 3;
    } else if (v->is_array()) {
      size += 2;
      for (const json::Value& e : v->as_array()) stack.push_back(&e);
    } else if (v->is_object()) {
      size += 2;
      for (const auto& [k, e] : v->as_object()) {
        size += k.size() + 4;
        stack.push_back(&e);
      }
    } else {
      size += 8;
    }
  }
  return size;
}

absl::Status Add(json::Value& root, const std::vector<std::string>& tokens, json::Value value) {
  if (tokens.empty()) {
    root = std::move(value);
    return absl::OkStatus();
  }
  auto parent = Parent(root, tokens);
  if (!parent.ok()) return parent.status();
  json::Value* p = *parent;
  if (p->is_object()) {
    p->Set(tokens.back(), std::move(value));
    return absl::OkStatus();
  }
  if (p->is_array()) {
    auto idx = ArrayIndex(tokens.back(), p->as_array().size(), true);
    if (!idx.ok()) return idx.status();
    auto& arr = p->as_array();
    arr.insert(arr.begin() + static_cast<std::ptrdiff_t>(*idx), std::move(value));
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("path does not name a container member");
}

absl::Status Remove(json::Value& root, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return absl::InvalidArgumentError("cannot remove the whole document");
  auto parent = Parent(root, tokens);
  if (!parent.ok()) return parent.status();
  json::Value* p = *parent;
  if (p->is_object()) {
    if (!p->Erase(tokens.back())) {
      return absl::InvalidArgumentError(StrCat("\"", tokens.back(), "\" not found"));
    }
    return absl::OkStatus();
  }
  if (p->is_array()) {
    auto idx = ArrayIndex(tokens.back(), p->as_array().size(), false);
    if (!idx.ok()) return idx.status();
    auto& arr = p->as_array();
    arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(*idx));
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("path does not name a container member");
}

absl::Status ApplyOne(json::Value& doc, const json::Value& op, size_t& copied) {
  if (!op.is_object()) return absl::InvalidArgumentError("operation must be an object");
  std::string name = op.GetString({"op"});
  const json::Value* path_v = op.Find("path");
  if (path_v == nullptr || !path_v->is_string()) return absl::InvalidArgumentError("missing \"path\"");
  auto path = SplitPointer(path_v->as_string());
  if (!path.ok()) return path.status();
  const json::Value* value = op.Find("value");
  auto need_value = [&]() -> absl::Status {
    return value == nullptr ? absl::InvalidArgumentError(StrCat("\"", name, "\" needs \"value\""))
                            : absl::OkStatus();
  };
  if (name == "add") {
    if (auto s = need_value(); !s.ok()) return s;
    return Add(doc, *path, *value);
  }
  if (name == "remove") return Remove(doc, *path);
  if (name == "replace") {
    if (auto s = need_value(); !s.ok()) return s;
    if (auto s = Remove(doc, *path); !s.ok()) return s;
    return Add(doc, *path, *value);
  }
  if (name == "move" || name == "copy") {
    const json::Value* from_v = op.Find("from");
    if (from_v == nullptr || !from_v->is_string()) return absl::InvalidArgumentError("missing \"from\"");
    auto from = SplitPointer(from_v->as_string());
    if (!from.ok()) return from.status();
    if (name == "copy") {
      // Each copy can double the document: 30 of them in a 3 KB patch would need 2^30 times
      // its size. Kubernetes caps what copies may add up to; so do we, before copying.
      auto source = Find(doc, *from);
      if (!source.ok()) return source.status();
      copied += SizeUpTo(**source, kMaxAccumulatedCopyBytes);
      if (copied > kMaxAccumulatedCopyBytes) {
        return absl::InvalidArgumentError(StrCat("copy operations add more than ", kMaxAccumulatedCopyBytes,
                                                 " bytes to the document (the accumulated copy size limit)"));
      }
    }
    auto v = Get(doc, *from);
    if (!v.ok()) return v.status();
    if (name == "move") {
      if (path_v->as_string().rfind(from_v->as_string() + "/", 0) == 0) {
        return absl::InvalidArgumentError("cannot move a value into one of its children");
      }
      if (auto s = Remove(doc, *from); !s.ok()) return s;
    }
    return Add(doc, *path, *std::move(v));
  }
  if (name == "test") {
    if (auto s = need_value(); !s.ok()) return s;
    auto v = Get(doc, *path);
    if (!v.ok()) return v.status();
    if (!(*v == *value)) {
      return absl::InvalidArgumentError(StrCat("test failed at \"", path_v->as_string(), "\""));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(StrCat("unknown operation \"", name, "\""));
}

}  // namespace

json::Value MergePatch(const json::Value& target, const json::Value& patch) {
  json::Value out = target;
  MergeInto(out, patch);
  return out;
}

absl::StatusOr<json::Value> JsonPatch(const json::Value& target, const json::Value& operations) {
  if (!operations.is_array()) {
    return absl::InvalidArgumentError("a JSON patch must be an array of operations");
  }
  if (operations.size() > kMaxJsonPatchOperations) {
    return absl::InvalidArgumentError(StrCat("the JSON patch has ", operations.size(), " operations, more than the ",
                                             kMaxJsonPatchOperations, " allowed"));
  }
  json::Value doc = target;
  size_t i = 0;
  size_t copied = 0;
  for (const json::Value& op : operations.as_array()) {
    if (absl::Status s = ApplyOne(doc, op, copied); !s.ok()) {
      return absl::InvalidArgumentError(StrCat("JSON patch operation ", i, ": ", s.message()));
    }
    ++i;
  }
  return doc;
}

json::Value CreateMergePatch(const json::Value& from, const json::Value& to) {
  if (!from.is_object() || !to.is_object()) return to;
  json::Value patch = json::Value::MakeObject();
  for (const auto& [k, v] : from.as_object()) {
    if (to.Find(k) == nullptr) patch.Set(k, json::Value());
  }
  for (const auto& [k, v] : to.as_object()) {
    const json::Value* old = from.Find(k);
    if (old == nullptr) {
      patch.Set(k, v);
    } else if (!(*old == v)) {
      patch.Set(k, (old->is_object() && v.is_object()) ? CreateMergePatch(*old, v) : v);
    }
  }
  return patch;
}

}  // namespace berth::patch
