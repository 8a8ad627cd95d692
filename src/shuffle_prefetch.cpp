#include "shuffle_prefetch.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace dptrain::detail {

WindowPrefetcher::WindowPrefetcher(const float* values, std::size_t features,
                                   const WindowedOrder& order, std::size_t block_rows)
    : base_(reinterpret_cast<const unsigned char*>(values)),
      row_bytes_(features * sizeof(float)),
      block_rows_(block_rows),
      rows_(order.windows.back()),
      order_(order),
      reader_([this] { run(); }) {}

WindowPrefetcher::~WindowPrefetcher() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  reader_.join();
}

void WindowPrefetcher::advise(std::size_t window, int advice) const {
  static const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
  const std::size_t first = window * ShuffleWindows::kWindowBlocks;
  const std::size_t last =
      std::min(order_.block_order.size(), first + ShuffleWindows::kWindowBlocks);
  for (std::size_t k = first; k < last; ++k) {
    const std::size_t row = std::size_t(order_.block_order[k]) * block_rows_;
    auto begin = reinterpret_cast<std::uintptr_t>(base_ + row * row_bytes_);
    auto end =
        reinterpret_cast<std::uintptr_t>(base_ + std::min(rows_, row + block_rows_) * row_bytes_);
    // Only whole pages of the block: the pages it shares with its neighbours in the file stay.
    begin = (begin + page - 1) / page * page;
    end = end / page * page;
    if (end > begin && ::madvise(reinterpret_cast<void*>(begin), end - begin, advice) != 0 &&
        advice == MADV_PAGEOUT)  // before Linux 5.4: drop the mapping; the LRU frees the pages
      ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }
}

void WindowPrefetcher::touch(std::size_t window) const {
  advise(window, MADV_WILLNEED);  // the kernel's read-ahead starts on every block at once
  const std::size_t first = window * ShuffleWindows::kWindowBlocks;
  const std::size_t last =
      std::min(order_.block_order.size(), first + ShuffleWindows::kWindowBlocks);
  for (std::size_t k = first; k < last; ++k) {
    const std::size_t row = std::size_t(order_.block_order[k]) * block_rows_;
    const volatile unsigned char* p = base_ + row * row_bytes_;
    const std::size_t bytes = (std::min(rows_, row + block_rows_) - row) * row_bytes_;
    unsigned sum = 0;  // one byte of every page, waited for here rather than in a step
    for (std::size_t at = 0; at < bytes; at += 4096) sum += p[at];
    sum += p[bytes - 1];
    (void)sum;
  }
}

void WindowPrefetcher::run() {
  std::size_t next = 0;  // the next window to page in
  const std::size_t windows = order_.windows.size() - 1;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || (next <= wanted_ && next < windows); });
    if (stop_) return;
    next = std::max(next, current_);  // windows already passed are not worth reading
    const std::size_t w = next++;
    lock.unlock();
    touch(w);
    lock.lock();
  }
}

void WindowPrefetcher::at(std::size_t pos) {
  const std::size_t w = order_.window_of(pos);
  {
    const std::lock_guard lock(mutex_);
    current_ = w;
    wanted_ = w + 1;
  }
  wake_.notify_one();
  // Pages behind are reclaimed now (MADV_PAGEOUT: clean file pages are freed), not left for
  // the kernel's LRU, which under a memory limit would evict the window read ahead first.
  for (; dropped_ < w; ++dropped_) advise(dropped_, MADV_PAGEOUT);
}

std::unique_ptr<WindowPrefetcher> window_prefetcher(const Dataset& data, bool windowed,
                                                    const WindowedOrder& order,
                                                    std::size_t block_rows) {
  if (!windowed || !data.borrowed_from_file || data.borrowed_x.empty()) return nullptr;
  return std::make_unique<WindowPrefetcher>(data.borrowed_x.data(), data.features, order,
                                            block_rows);
}

}  // namespace dptrain::detail
