#include "inflate.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

#include "dptrain/error.hpp"

namespace dptrain::detail {

GzipInflater::GzipInflater(Pull pull, std::string name)
    : pull_(std::move(pull)), name_(std::move(name)) {
  if (inflateInit2(&z_, 15 + 16) != Z_OK) throw std::bad_alloc();  // 16: gzip wrapper only
}

GzipInflater::~GzipInflater() {
  inflateEnd(&z_);
}

void GzipInflater::fail(const std::string& why) {
  done_ = true;
  throw Error("cannot read '" + name_ + "': " + why);
}

bool GzipInflater::refill() {
  const std::size_t n = pull_(in_, sizeof in_);
  z_.next_in = reinterpret_cast<Bytef*>(in_);
  z_.avail_in = static_cast<uInt>(n);
  return n > 0;
}

std::size_t GzipInflater::read(char* out, std::size_t size, std::size_t& produced) {
  produced = 0;
  while (produced < size && !done_) {
    if (z_.avail_in == 0 && !refill()) fail("truncated gzip data");
    z_.next_out = reinterpret_cast<Bytef*>(out + produced);
    z_.avail_out = static_cast<uInt>(std::min<std::size_t>(size - produced, 1u << 30));
    const uInt before = z_.avail_out;
    const int rc = inflate(&z_, Z_NO_FLUSH);
    produced += before - z_.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && z_.avail_in == 0))
      fail(rc == Z_BUF_ERROR ? "truncated gzip data"
           : z_.msg          ? std::string("corrupt gzip data: ") + z_.msg
                             : "corrupt gzip data");
    if (rc != Z_STREAM_END) continue;
    // Concatenated gzip members are one gzip file; anything else after a member is not gzip.
    std::string next(reinterpret_cast<const char*>(z_.next_in), z_.avail_in);
    while (next.size() < 2) {
      char more[2];
      const std::size_t n = pull_(more, 2 - next.size());
      if (n == 0) break;
      next.append(more, n);
    }
    if (next.empty()) {
      done_ = true;
      break;
    }
    if (!is_gzip_magic(next)) {
      std::size_t left = next.size();
      while (const std::size_t n = pull_(in_, sizeof in_)) left += n;  // counted, not kept
      fail(std::to_string(left) + " bytes of trailing data after gzip member " +
           std::to_string(members_) + " that are not another gzip member");
    }
    std::memcpy(in_, next.data(), next.size());  // next_in may point into in_: copy first
    z_.next_in = reinterpret_cast<Bytef*>(in_);
    z_.avail_in = static_cast<uInt>(next.size());
    inflateReset(&z_);
    ++members_;
  }
  return produced;
}

InputStream::InputStream(std::string name, int fd, std::string_view bytes, std::size_t size)
    : name_(std::move(name)), fd_(fd), memory_(bytes), size_(size) {
  char head[2];
  std::size_t got = 0;
  while (got < sizeof head) {
    const std::size_t n = pull(head + got, sizeof head - got);
    if (n == 0) break;
    got += n;
  }
  peeked_.assign(head, got);
  if (!is_gzip_magic(peeked_)) return;
  gzip_ =
      std::make_unique<GzipInflater>([this](char* o, std::size_t n) { return pull(o, n); }, name_);
  unsigned char trailer[4] = {0, 0, 0, 0};
  if (size_ >= 18 && fd_ >= 0 && ::pread(fd_, trailer, 4, off_t(size_ - 4)) != 4) return;
  if (size_ >= 18 && fd_ < 0) std::memcpy(trailer, memory_.data() + size_ - 4, 4);
  const std::size_t isize = std::size_t(trailer[0]) | std::size_t(trailer[1]) << 8 |
                            std::size_t(trailer[2]) << 16 | std::size_t(trailer[3]) << 24;
  // Text deflates 3 to 10 times; a trailer claiming more than 64 is not believed (a bomb).
  gzip_size_ = isize <= size_ * 64 ? isize : 0;
}

InputStream::~InputStream() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<InputStream> InputStream::file(const std::string& path) {
  const std::string name = "'" + path + "'";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + name + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error("cannot read " + name + ": it is a directory, not a file");
  }
  const std::size_t size = S_ISREG(st.st_mode) ? std::size_t(st.st_size) : 0;
  return std::unique_ptr<InputStream>(new InputStream(path, fd, {}, size));
}

std::unique_ptr<InputStream> InputStream::memory(std::string_view bytes, const std::string& name) {
  return std::unique_ptr<InputStream>(new InputStream(name, -1, bytes, bytes.size()));
}

std::size_t InputStream::pull(char* out, std::size_t size) {
  if (!peeked_.empty()) {
    const std::size_t n = std::min(size, peeked_.size());
    std::memcpy(out, peeked_.data(), n);
    peeked_.erase(0, n);
    return n;
  }
  if (fd_ < 0) {
    const std::size_t n = std::min(size, memory_.size() - std::min(memory_.size(), raw_read_));
    if (n == 0) return 0;  // memory_ may be empty, its data() null
    std::memcpy(out, memory_.data() + raw_read_, n);
    raw_read_ += n;
    return n;
  }
  for (;;) {
    const ssize_t n = ::read(fd_, out, size);
    if (n >= 0) {
      raw_read_ += std::size_t(n);
      return std::size_t(n);
    }
    if (errno != EINTR) throw Error("cannot read '" + name_ + "': " + std::strerror(errno));
  }
}

std::size_t InputStream::read(char* out, std::size_t size, std::size_t& got) {
  got = 0;
  if (gzip_) return gzip_->read(out, size, got);
  while (got < size) {
    const std::size_t n = pull(out + got, size - got);
    if (n == 0) break;
    got += n;
  }
  return got;
}

}  // namespace dptrain::detail

namespace dptrain::detail {

ReadAhead::ReadAhead(InputStream& in) : in_(in) {
  if (!in.gzipped() || !in.regular()) return;
  ring_.resize(kAheadPieces);
  for (Piece& p : ring_) p.bytes.resize(kAheadPiece);
  try {
    thread_ = std::thread([this] { produce(); });
  } catch (const std::system_error&) {
    ring_.clear();  // no thread: read inline (Note [Inflation ahead])
  }
}

ReadAhead::~ReadAhead() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  emptied_.notify_one();
  thread_.join();
}

void ReadAhead::produce() {
  for (std::size_t next = 0;; next = (next + 1) % ring_.size()) {
    {
      std::unique_lock lock(mutex_);
      emptied_.wait(lock, [&] { return stop_ || ready_ < ring_.size(); });
      if (stop_) return;
    }
    Piece& p = ring_[next];  // not ready: the reader does not touch it
    p.size = 0;
    try {
      in_.read(p.bytes.data(), kAheadPiece, p.size);
    } catch (...) {
      p.error = std::current_exception();
    }
    const bool last = p.error || p.size < kAheadPiece;
    {
      std::lock_guard lock(mutex_);
      ++ready_;
    }
    filled_.notify_one();
    if (last) return;
  }
}

std::size_t ReadAhead::read(char* out, std::size_t size) {
  if (ring_.empty()) return in_.read(out, size);
  std::size_t got = 0;
  while (got < size && !end_) {
    {
      std::unique_lock lock(mutex_);
      filled_.wait(lock, [&] { return ready_ > 0; });
    }
    Piece& p = ring_[head_];  // ready: the producer does not touch it
    if (offset_ < p.size) {
      const std::size_t n = std::min(size - got, p.size - offset_);
      std::memcpy(out + got, p.bytes.data() + offset_, n);
      got += n;
      offset_ += n;
      continue;
    }
    if (p.error) {  // the bytes before the error delivered, more wanted: as inline
      end_ = true;
      std::rethrow_exception(p.error);
    }
    if (p.size < kAheadPiece) {
      end_ = true;
      break;
    }
    offset_ = 0;
    head_ = (head_ + 1) % ring_.size();
    {
      std::lock_guard lock(mutex_);
      --ready_;
    }
    emptied_.notify_one();
  }
  return got;
}

}  // namespace dptrain::detail

namespace dptrain::detail {

TextBlocks::TextBlocks(InputStream& in) : ahead_(in) {
  if (in.gzipped() || !in.regular()) return;
  size_ = in.plain_size();
  if (in.descriptor() < 0) {
    whole_ = in.memory().data();
    return;
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, in.descriptor(), 0);
  if (map == MAP_FAILED) return;  // read into the buffer instead
  ::madvise(map, size_, MADV_SEQUENTIAL);
  whole_ = static_cast<const char*>(map);
  mapped_ = size_;
}

TextBlocks::~TextBlocks() {
  if (mapped_ > 0) ::munmap(const_cast<char*>(whole_), mapped_);
}

std::string_view TextBlocks::next(std::size_t more, bool& eof) {
  if (whole_ != nullptr) {
    const std::size_t got = std::min(more, size_ - end_);
    eof = got < more;
    end_ += got;
    return {whole_ + start_, end_ - start_};
  }
  const std::size_t kept = end_ - start_;
  std::memmove(buf_.data(), buf_.data() + start_, kept);
  buf_.resize(kept + more);
  const std::size_t got = ahead_.read(buf_.data() + kept, more);
  eof = got < more;
  buf_.resize(kept + got);
  start_ = 0;
  end_ = kept + got;
  return buf_;
}

void TextBlocks::consume(std::size_t n) {
  start_ += n;
  if (mapped_ == 0) return;
  // The pages wholly behind the reader leave resident memory (they stay in the page cache).
  constexpr std::size_t kDrop = std::size_t(8) << 20;
  const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
  const std::size_t behind = start_ / page * page;
  if (behind < dropped_ + kDrop) return;
  ::madvise(const_cast<char*>(whole_) + dropped_, behind - dropped_, MADV_DONTNEED);
  dropped_ = behind;
}

}  // namespace dptrain::detail
