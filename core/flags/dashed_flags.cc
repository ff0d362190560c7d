#include "core/flags/dashed_flags.h"

#include <algorithm>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

namespace berth::flags {

std::vector<char*> NormalizeDashes(int argc, char** argv, std::vector<std::string>& storage) {
  storage.assign(argv, argv + argc);
  for (size_t i = 1; i < storage.size(); ++i) {
    std::string& a = storage[i];
    if (a.rfind("--", 0) != 0) continue;
    size_t end = std::min(a.find('='), a.size());
    for (size_t j = 2; j < end; ++j) {
      if (a[j] == '-') a[j] = '_';
    }
  }
  std::vector<char*> out;
  for (auto& s : storage) out.push_back(s.data());
  return out;
}

sigset_t ParseFlagsAndBlockSignals(int argc, char** argv, const char* usage) {
  absl::SetProgramUsageMessage(usage);
  std::vector<std::string> storage;
  std::vector<char*> args = NormalizeDashes(argc, argv, storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

}  // namespace berth::flags
