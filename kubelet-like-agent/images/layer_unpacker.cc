#include "kubelet-like-agent/images/layer_unpacker.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/strings/strings.h"

namespace berth::agent::images {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriterDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

std::string ArchiveError(struct archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown libarchive error";
}

void MkdirAll(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
  }
}

}  // namespace

absl::StatusOr<std::string> CleanEntryPath(std::string_view path) {
  std::vector<std::string> parts;
  for (std::string_view part : Split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return absl::InvalidArgumentError(StrCat("layer entry \"", path.substr(0, 200), "\" leaves the layer (..)"));
    parts.emplace_back(part);
  }
  return Join(parts, "/");
}

absl::StatusOr<UnpackStats> UnpackLayer(const std::string& archive_path, const std::string& into) {
  char resolved[PATH_MAX];
  // A canonical prefix: the symlink check below then only ever sees the layer's own links.
  if (realpath(into.c_str(), resolved) == nullptr) {
    return absl::NotFoundError(StrCat("layer directory ", into, ": ", std::strerror(errno)));
  }
  const std::string root = resolved;
  std::unique_ptr<struct archive, ArchiveDeleter> reader(archive_read_new());
  std::unique_ptr<struct archive, WriterDeleter> writer(archive_write_disk_new());
  archive_read_support_filter_gzip(reader.get());
  archive_read_support_filter_zstd(reader.get());
  archive_read_support_format_tar(reader.get());
  archive_read_support_format_gnutar(reader.get());
  archive_write_disk_set_options(writer.get(), ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                   ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                   ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);
  archive_write_disk_set_standard_lookup(writer.get());
  if (archive_read_open_filename(reader.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(StrCat("layer ", archive_path, ": ", ArchiveError(reader.get())));
  }
  UnpackStats stats;
  struct archive_entry* entry;
  while (true) {
    int r = archive_read_next_header(reader.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return absl::InvalidArgumentError(StrCat("layer is not a valid tar: ", ArchiveError(reader.get())));
    ++stats.entries;
    const char* raw = archive_entry_pathname(entry);
    auto rel = CleanEntryPath(raw ? raw : "");
    if (!rel.ok()) return rel.status();
    if (rel->empty()) continue;  // the root itself: the layer directory stands for it
    size_t slash = rel->rfind('/');
    std::string dir = slash == std::string::npos ? root : root + "/" + rel->substr(0, slash);
    std::string base = slash == std::string::npos ? *rel : rel->substr(slash + 1);
    if (base == kOpaqueMarker) {
      MkdirAll(dir);
      if (setxattr(dir.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
        return absl::InternalError(StrCat("marking ", dir, " opaque: ", std::strerror(errno)));
      }
      continue;
    }
    if (base.size() > kWhiteoutPrefix.size() && base.compare(0, kWhiteoutPrefix.size(), kWhiteoutPrefix) == 0) {
      MkdirAll(dir);
      std::string hidden = dir + "/" + base.substr(kWhiteoutPrefix.size());
      unlink(hidden.c_str());
      if (mknod(hidden.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
        return absl::InternalError(StrCat("whiteout ", hidden, ": ", std::strerror(errno)));
      }
      continue;
    }
    std::string full = root + "/" + *rel;
    archive_entry_set_pathname(entry, full.c_str());
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      auto target = CleanEntryPath(link);
      if (!target.ok()) return target.status();
      std::string full_target = root + "/" + *target;
      archive_entry_set_hardlink(entry, full_target.c_str());
    }
    r = archive_write_header(writer.get(), entry);
    if (r < ARCHIVE_WARN) {
      return absl::InvalidArgumentError(StrCat("layer entry \"", *rel, "\": ", ArchiveError(writer.get())));
    }
    if (archive_entry_size(entry) > 0) {
      const void* block;
      size_t size;
      la_int64_t offset;
      while ((r = archive_read_data_block(reader.get(), &block, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(writer.get(), block, size, offset) < ARCHIVE_OK) {
          return absl::InternalError(StrCat("writing \"", *rel, "\": ", ArchiveError(writer.get())));
        }
        stats.bytes += static_cast<int64_t>(size);
      }
      if (r != ARCHIVE_EOF) {
        return absl::InvalidArgumentError(StrCat("layer entry \"", *rel, "\" is truncated: ", ArchiveError(reader.get())));
      }
    }
    if (archive_write_finish_entry(writer.get()) < ARCHIVE_WARN) {
      return absl::InternalError(StrCat("finishing \"", *rel, "\": ", ArchiveError(writer.get())));
    }
  }
  if (archive_write_close(writer.get()) < ARCHIVE_WARN) {
    return absl::InternalError(StrCat("finishing the layer: ", ArchiveError(writer.get())));
  }
  return stats;
}

}  // namespace berth::agent::images
