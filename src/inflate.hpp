#pragma once
// Internal: streaming gzip inflation (zlib) for the readers that take gzip'ed input (CSV, IDX),
// so that compressed data is never inflated whole before it is checked (Note [Bounded
// inflation]).
#include <zlib.h>

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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

  /// Up to `size` inflated bytes into `out`; fewer only at the end (0: the end). `got` counts
  /// the bytes written so far, also when it throws (those before the error are good).
  std::size_t read(char* out, std::size_t size, std::size_t& got);

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
  std::size_t read(char* out, std::size_t size) {
    std::size_t got = 0;
    return read(out, size, got);
  }
  /// The same, `got` counting the bytes written so far, also when it throws.
  std::size_t read(char* out, std::size_t size, std::size_t& got);
  /// True for a regular file or memory (not a pipe or device): reading it never waits on
  /// another process.
  bool regular() const { return size_ > 0; }
  /// The input's size in bytes when it is a regular file or memory and not gzip'ed, else 0.
  std::size_t plain_size() const { return gzip_ ? 0 : size_; }
  /// An estimate of the inflated size: plain_size(), or for a gzip'ed regular file the size
  /// its last member's trailer records (ISIZE, modulo 2^32: exact for one member under 4 GiB)
  /// when that is at most 64 times the file, else 0. Only a hint for reserving memory.
  std::size_t size_hint() const { return gzip_ ? gzip_size_ : size_; }
  /// Compressed bytes read so far (the raw input, gzip'ed or not).
  std::size_t raw_read() const { return raw_read_; }
  bool gzipped() const { return gzip_ != nullptr; }
  /// The file's descriptor (-1 for memory) and the memory's bytes (empty for a file).
  int descriptor() const { return fd_; }
  std::string_view memory() const { return memory_; }

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

// Note [Inflation ahead]. Inflating gzip costs about as much as parsing the text it yields, so
// a gzip'ed regular file is inflated on a thread of its own, at most kAheadPieces pieces of
// kAheadPiece bytes ahead of the parser, while the pool's workers parse the block before: the
// load takes about the longer of the two instead of their sum. The thread only runs zlib and
// read(2) and ends with the read (like the shuffle's WindowPrefetcher, an I/O helper, not a
// compute worker of Note [Threads]). The parser sees the same bytes in the same reads, an error
// of the gzip data (truncated, corrupt, trailing bytes) where the parser would have met it
// reading inline: the bytes before it are delivered, then the error is thrown, so the first
// problem in the input is still the one reported. Memory grows by the pieces (Note [Bounded
// inflation]: still bounded). A pipe or device is read inline (its reads may wait forever, and
// a reader must be able to stop), and so is everything when the system refuses a thread.
inline constexpr std::size_t kAheadPiece = std::size_t(1) << 20, kAheadPieces = 4;

/// InputStream::read, inflated ahead on a thread when `in` is gzip'ed and regular() (Note
/// [Inflation ahead]); `in` must outlive this and not be read by anyone else meanwhile.
class ReadAhead {
 public:
  explicit ReadAhead(InputStream& in);
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  /// As InputStream::read: up to `size` bytes into `out`; fewer only at the end (0: the end).
  std::size_t read(char* out, std::size_t size);

 private:
  struct Piece {
    std::vector<char> bytes;
    std::size_t size = 0;  // bytes inflated; < kAheadPiece: the last piece
    std::exception_ptr error;
  };
  void produce();
  InputStream& in_;
  std::vector<Piece> ring_;
  std::size_t head_ = 0, ready_ = 0, offset_ = 0;  // piece read next, pieces ready, read of head
  bool stop_ = false, end_ = false;
  std::mutex mutex_;
  std::condition_variable filled_, emptied_;
  std::thread thread_;
};

/// Text a block at a time for a reader that parses whole lines and keeps the unfinished one
/// (Note [Streaming CSV] in csv_reader.cpp). Plain text in memory is read in place, and a plain
/// regular file is memory-mapped and read in place, its pages dropped behind the reader (no
/// copy into a buffer, and resident memory stays a few blocks; as with a mapped .npy file, a
/// file cut short by another process while it is read ends this one with SIGBUS); anything else
/// (gzip, a pipe, a file that cannot be mapped) is read into a buffer, gzip inflated ahead
/// (ReadAhead).
class TextBlocks {
 public:
  explicit TextBlocks(InputStream& in);
  ~TextBlocks();
  TextBlocks(const TextBlocks&) = delete;
  TextBlocks& operator=(const TextBlocks&) = delete;

  /// The bytes kept (not consumed) followed by up to `more` new ones; `eof` when fewer came.
  /// The view holds until the next call.
  std::string_view next(std::size_t more, bool& eof);
  /// Consumes the first `n` bytes of what is kept (n <= kept()).
  void consume(std::size_t n);
  /// Bytes of the last view not consumed yet.
  std::size_t kept() const { return end_ - start_; }

 private:
  ReadAhead ahead_;
  const char* whole_ = nullptr;  // the text in place (memory or a map), else null
  std::size_t size_ = 0, mapped_ = 0, dropped_ = 0;  // text size; bytes mapped; pages dropped
  std::string buf_;                                  // without whole_: [start_, end_) kept
  std::size_t start_ = 0, end_ = 0;
};

}  // namespace dptrain::detail
