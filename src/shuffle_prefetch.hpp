#pragma once
// Internal: pages the next window of a windowed shuffle (Note [Windowed shuffle] in
// src/shuffle.cpp) in from a memory-mapped file while the engine trains the current one, and
// drops the windows behind, so that the resident part of the file stays about two windows.
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>

#include "dptrain/data.hpp"
#include "dptrain/shuffle.hpp"

namespace dptrain::detail {

class WindowPrefetcher {
 public:
  /// `values`: the rows x features floats of a read-only file map (pages behind are freed
  /// with MADV_PAGEOUT, or MADV_DONTNEED before Linux 5.4, which would zero anonymous memory:
  /// never pass other memory).
  /// `order` must outlive the prefetcher.
  WindowPrefetcher(const float* values, std::size_t features, const WindowedOrder& order,
                   std::size_t block_rows);
  ~WindowPrefetcher();
  WindowPrefetcher(const WindowPrefetcher&) = delete;
  WindowPrefetcher& operator=(const WindowPrefetcher&) = delete;

  /// The next step starts at position `pos` of the order: windows wholly before its window are
  /// dropped, and the reader thread pages in its window and the one after.
  void at(std::size_t pos);

 private:
  void run();
  /// madvise over the whole pages of window w's blocks.
  void advise(std::size_t window, int advice) const;
  void touch(std::size_t window) const;

  const unsigned char* base_;
  std::size_t row_bytes_, block_rows_, rows_;
  const WindowedOrder& order_;
  std::size_t current_ = 0, dropped_ = 0;  // windows below dropped_ are dropped
  std::size_t wanted_ = 0;                 // the reader pages in windows up to this one
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread reader_;
};

/// A prefetcher over `data`'s features in the windows of `order` when `windowed` and the
/// features are borrowed from a file map (Dataset::borrowed_from_file); else null.
std::unique_ptr<WindowPrefetcher> window_prefetcher(const Dataset& data, bool windowed,
                                                    const WindowedOrder& order,
                                                    std::size_t block_rows);

}  // namespace dptrain::detail
