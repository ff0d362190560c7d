#pragma once
// File: core/json/value.h
// An owning JSON tree. RapidJSON parses and writes it (core/json/codec.cc); every other part of
// Berth manipulates objects through this type, so no RapidJSON type leaks into headers.
// Objects keep insertion order, as Kubernetes clients print what they sent back to them.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace berth::json {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;

class Value {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(int64_t i) : v_(i) {}
  Value(uint64_t i) : v_(static_cast<int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(Array a) : v_(std::move(a)) {}
  Value(Object o) : v_(std::move(o)) {}

  static Value MakeObject() { return Value(Object{}); }
  static Value MakeArray() { return Value(Array{}); }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_double() const { return type() == Type::kDouble; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Accessors require the matching type (checked by the caller with is_*()).
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return is_int() ? static_cast<double>(as_int()) : std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  std::string& as_string() { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Object members. Find returns nullptr when absent or when this is not an object.
  const Value* Find(std::string_view key) const;
  Value* Find(std::string_view key);
  // Replaces or appends; turns a non-object into an empty object first.
  Value& Set(std::string_view key, Value v);
  // Returns the member, inserting null if absent; turns a non-object into an object.
  Value& operator[](std::string_view key);
  bool Erase(std::string_view key);

  // Walks nested objects: Get({"metadata", "name"}). nullptr if any step is missing.
  const Value* Get(std::initializer_list<std::string_view> path) const;
  // The string at `path`, or `fallback` when absent or not a string.
  std::string GetString(std::initializer_list<std::string_view> path,
                        std::string_view fallback = "") const;
  // The integer at `path`, or `fallback` when absent or not an integer.
  int64_t GetInt(std::initializer_list<std::string_view> path, int64_t fallback = 0) const;
  // Creates intermediate objects as needed.
  Value& Ensure(std::initializer_list<std::string_view> path);

  size_t size() const;  // members or elements; 0 otherwise

  friend bool operator==(const Value& a, const Value& b);

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> v_;
};

// Resolves duplicate keys in members appended without checks (decoders): the last value wins
// at the first key's position, as Set would have done, in O(n) for n members.
void RemoveDuplicateKeys(Object& members);

}  // namespace berth::json
