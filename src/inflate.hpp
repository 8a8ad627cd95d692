#pragma once
// Internal: streaming gzip inflation (zlib) for the readers that take gzip'ed input (CSV, IDX),
// so that compressed data is never inflated whole before it is checked (Note [Bounded
// inflation]).
#include <zlib.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace dptrain::detail {

// Note [Bounded inflation]. A few megabytes of gzip can inflate to gigabytes (a "gzip bomb"),
// and a device such as /dev/urandom never ends. So no reader inflates or reads a whole input
// before looking at it: the CSV reader pulls blocks and parses them as they come, refusing
// binary data in its first block and checking the memory its parsed rows need as they grow
// (check_fits_memory); the IDX reader inflates the header first and then exactly the bytes the
// header promises, counting (not keeping) anything beyond them.

/// Inflates gzip data from a source of compressed bytes, every member of it (concatenated
/// members are one gzip file, RFC 1952 2.2). `pull(buffer, size)` fills up to size bytes of
/// compressed input and returns how many (0 at its end). Errors name `name`: "cannot read
/// '<name>': truncated gzip data", corrupt data, trailing bytes that are not a gzip member.
class GzipInflater {
 public:
  using Pull = std::function<std::size_t(char*, std::size_t)>;
  GzipInflater(Pull pull, std::string name);
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  /// Up to `size` inflated bytes into `out`; fewer only at the end (0: the end).
  std::size_t read(char* out, std::size_t size);

 private:
  [[noreturn]] void fail(const std::string& why);
  bool refill();
  Pull pull_;
  std::string name_;
  z_stream z_{};
  char in_[1 << 16];
  std::size_t members_ = 1;
  bool done_ = false;
};

/// True for the gzip magic bytes.
inline bool is_gzip_magic(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

/// The bytes of a file or of memory, inflated when they start with the gzip magic: what the
/// readers of text and IDX files pull from, a block at a time.
class InputStream {
 public:
  /// Opens `path` (read_file's messages: missing, unreadable, a folder).
  static std::unique_ptr<InputStream> file(const std::string& path);
  /// Bytes the caller keeps alive; `name` names them in messages.
  static std::unique_ptr<InputStream> memory(std::string_view bytes, const std::string& name);
  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  /// Up to `size` bytes (inflated) into `out`; fewer only at the end (0: the end).
  std::size_t read(char* out, std::size_t size);
  /// The input's size in bytes when it is a regular file or memory and not gzip'ed, else 0.
  std::size_t plain_size() const { return gzip_ ? 0 : size_; }
  /// An estimate of the inflated size: plain_size(), or for a gzip'ed regular file the size
  /// its last member's trailer records (ISIZE, modulo 2^32: exact for one member under 4 GiB)
  /// when that is at most 64 times the file, else 0. Only a hint for reserving memory.
  std::size_t size_hint() const { return gzip_ ? gzip_size_ : size_; }
  /// Compressed bytes read so far (the raw input, gzip'ed or not).
  std::size_t raw_read() const { return raw_read_; }
  bool gzipped() const { return gzip_ != nullptr; }

 private:
  InputStream(std::string name, int fd, std::string_view bytes, std::size_t size);
  std::size_t pull(char* out, std::size_t size);  // raw bytes, after the peeked ones
  std::string name_;
  int fd_ = -1;
  std::string_view memory_;
  std::size_t size_ = 0, raw_read_ = 0, gzip_size_ = 0;
  std::string peeked_;  // the first raw bytes, read to look for the gzip magic
  std::unique_ptr<GzipInflater> gzip_;
};

}  // namespace dptrain::detail
