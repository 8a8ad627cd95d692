#pragma once
// A zero-initialised, 64-byte-aligned array of trivially copyable elements. It owns the flat
// parameter, gradient, optimizer-state and workspace memory; layers hold views (pointers) into
// it. Not copyable by accident: copies are made with clone().
#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace dptrain {

inline constexpr std::size_t kCacheLine = 64;

/// Rounds `n` elements of type T up to a whole number of cache lines.
template <class T>
constexpr std::size_t round_up_to_cache_line(std::size_t n) {
  constexpr std::size_t per_line = kCacheLine / sizeof(T);
  return (n + per_line - 1) / per_line * per_line;
}

template <class T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t size) : size_(size) {
    if (size_ == 0) return;
    data_ = static_cast<T*>(::operator new (round_up_to_cache_line<T>(size_) * sizeof(T),
                                            std::align_val_t{kCacheLine}));
    std::memset(data_, 0, size_ * sizeof(T));
  }
  ~AlignedBuffer() { release(); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  AlignedBuffer clone() const {
    AlignedBuffer copy(size_);
    if (size_) std::memcpy(copy.data_, data_, size_ * sizeof(T));
    return copy;
  }
  void fill_zero() {
    if (size_) std::memset(data_, 0, size_ * sizeof(T));
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return size_ * sizeof(T); }
  std::span<T> span() { return {data_, size_}; }
  std::span<const T> span() const { return {data_, size_}; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }

 private:
  void release() {
    if (data_) ::operator delete (data_, std::align_val_t{kCacheLine});
    data_ = nullptr;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace dptrain
