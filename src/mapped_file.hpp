#pragma once
// Internal: a read-only memory map of a whole file, shared by the readers that read files in
// place (.npy, .npz); the window shuffle drops and prefetches its pages (src/shuffle_prefetch.cpp).
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace dptrain::detail {

/// A whole regular file mapped read-only (MAP_PRIVATE); unmapped and closed when destroyed. The
/// descriptor stays open for posix_fadvise.
struct MappedFile {
  const unsigned char* data = nullptr;
  std::size_t size = 0;
  int fd = -1;
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }

  /// Maps `path`. Throws dptrain::Error naming it: missing, unreadable, not a regular file
  /// (`kind` says what is mapped, e.g. "a .npy file").
  static std::shared_ptr<MappedFile> open(const std::string& path, const std::string& kind);
};

}  // namespace dptrain::detail
