#pragma once
// File: unit/kubelet-like-agent/images/tar_writer.h
// A few ustar entries written by hand: the tests build layers without the library under test.

#include <cstdio>
#include <cstring>
#include <string>

namespace berth::agent::images::testing {

struct TarEntry {
  std::string name;
  char type = '0';  // '0' file, '5' directory, '2' symlink, '1' hard link
  std::string data;  // file contents, or the link target
  int mode = 0644;
};

inline std::string Tar(const std::initializer_list<TarEntry>& entries) {
  std::string out;
  for (const TarEntry& e : entries) {
    char h[512];
    std::memset(h, 0, sizeof h);
    std::snprintf(h, 100, "%s", e.name.c_str());
    std::snprintf(h + 100, 8, "%07o", e.mode);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    size_t size = e.type == '0' ? e.data.size() : 0;
    std::snprintf(h + 124, 12, "%011zo", size);
    std::snprintf(h + 136, 12, "%011o", 1700000000);
    h[156] = e.type;
    if (e.type == '1' || e.type == '2') std::snprintf(h + 157, 100, "%s", e.data.c_str());
    std::memcpy(h + 257, "ustar\0" "00", 8);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    out.append(h, sizeof h);
    if (size > 0) {
      out += e.data;
      out.append((512 - size % 512) % 512, '\0');
    }
  }
  out.append(1024, '\0');
  return out;
}

}  // namespace berth::agent::images::testing
