#pragma once
// File: core/flags/dashed_flags.h
// Abseil flags are spelled with underscores; Berth's command lines use dashes (--data-dir).
// Rewrites `--some-flag[=v]` to `--some_flag[=v]` before absl::ParseCommandLine.

#include <string>
#include <vector>

namespace berth::flags {

// `storage` owns the rewritten strings; the returned pointers point into it.
std::vector<char*> NormalizeDashes(int argc, char** argv, std::vector<std::string>& storage);

}  // namespace berth::flags
