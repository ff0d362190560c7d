#include "core/pki/private_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/strings/strings.h"

namespace berth::pki {

absl::Status EnsurePrivateDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(StrCat("creating ", dir, ": ", ec.message()));
  if (chmod(dir.c_str(), 0700) != 0) return absl::InternalError(StrCat("chmod 0700 ", dir, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

absl::Status WritePrivateFile(const std::string& path, const std::string& content) {
  std::string temp = StrCat(path, ".tmp.", getpid());
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(StrCat("creating ", temp, ": ", std::strerror(errno)));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      unlink(temp.c_str());
      return absl::InternalError(StrCat("writing ", temp, ": ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  // fchmod too: an existing temp file keeps its old mode through O_CREAT.
  bool ok = fchmod(fd, 0600) == 0 && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(temp.c_str());
    return absl::InternalError(StrCat("writing ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat(path, " does not exist"));
    return absl::InternalError(StrCat("reading ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace berth::pki
