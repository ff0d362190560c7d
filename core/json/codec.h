#pragma once
// File: core/json/codec.h
// JSON text <-> Value. Parsing rejects trailing garbage, invalid UTF-8 and nesting deeper than
// `max_depth` (a hostile body must not exhaust the stack of the recursive algorithms after it).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::json {

inline constexpr int kDefaultMaxDepth = 64;

// kInvalidArgument with the offset and RapidJSON's description on malformed input.
absl::StatusOr<Value> Parse(std::string_view text, int max_depth = kDefaultMaxDepth);

// Like Parse, for bytes Berth itself stored or served: when they hold invalid UTF-8 (objects
// stored before every decoder checked it), each invalid sequence reads as U+FFFD, as Go's
// encoding/json reads it, so such an object can still be listed, updated and deleted.
absl::StatusOr<Value> ParseStored(std::string_view text, int max_depth = kDefaultMaxDepth);

// Compact JSON.
std::string Serialize(const Value& value);
void SerializeTo(const Value& value, std::string& out);

// Escapes `s` as a JSON string literal including the quotes.
std::string Quote(std::string_view s);

}  // namespace berth::json
