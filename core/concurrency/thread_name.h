#pragma once
// File: core/concurrency/thread_name.h
// Names the calling thread (as top -H, perf and /proc/<pid>/task/*/comm show it), so a profile
// can tell the network threads from the work pool and the commit thread.

#include <string_view>

namespace berth {

// Linux keeps at most 15 bytes; a longer name is cut.
void NameThisThread(std::string_view name);

}  // namespace berth
