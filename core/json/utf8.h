#pragma once
// File: core/json/utf8.h
// UTF-8 checks for decoded bodies. The JSON parser validates encoding itself; YAML and protobuf
// decoders do not, and an invalid byte sequence stored raw makes the object undecodable for
// every client afterwards (Go's typed clients, the Python client, our own informers).

#include <optional>
#include <string>
#include <string_view>

#include "core/json/value.h"

namespace berth::json {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool IsValidUtf8(std::string_view s);
// Byte offset of the first invalid sequence, or std::string_view::npos when `s` is valid.
size_t FirstInvalidUtf8Offset(std::string_view s);

// `s` with each maximal invalid sequence replaced by U+FFFD, as Go's encoding/json reads it.
std::string ReplaceInvalidUtf8(std::string_view s);

// The dotted path of the first key or string in `v` that is not valid UTF-8 ("data.k", "spec.
// containers[0].args[1]"; "" for the root itself), or nullopt when every string is valid.
std::optional<std::string> FindInvalidUtf8(const Value& v);

}  // namespace berth::json
