#pragma once
// File: core/pki/private_files.h
// Keys, certificates and credentials on disk: directories 0700, files 0600, written to a temporary
// name, fsynced and renamed, so a reader (or a crash) never sees half a key.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::pki {

// Creates `dir` (and parents) if missing and sets it to 0700.
absl::Status EnsurePrivateDirectory(const std::string& dir);

// Replaces `path` atomically with `content`, mode 0600.
absl::Status WritePrivateFile(const std::string& path, const std::string& content);

// The whole file; NotFound when it does not exist.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace berth::pki
