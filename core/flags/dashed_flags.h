#pragma once
// File: core/flags/dashed_flags.h
// Abseil flags are spelled with underscores; Berth's command lines use dashes (--data-dir).
// Rewrites `--some-flag[=v]` to `--some_flag[=v]` before absl::ParseCommandLine.

#include <signal.h>

#include <string>
#include <vector>

namespace berth::flags {

// `storage` owns the rewritten strings; the returned pointers point into it.
std::vector<char*> NormalizeDashes(int argc, char** argv, std::vector<std::string>& storage);

// What every Berth binary does first: parse its flags (dashes or underscores), and block
// SIGTERM/SIGINT in all threads so that the returned set can be sigwait()ed by one of them.
sigset_t ParseFlagsAndBlockSignals(int argc, char** argv, const char* usage);

}  // namespace berth::flags
