#pragma once
// Splitting an index range among workers. Pure functions; safe from any thread.
#include <algorithm>
#include <cstddef>

namespace dptrain::parallel {

/// Half-open index range [begin, end).
struct Range {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
};

/// Contiguous share `ith` of `n` items cut into `nth` parts (ggml style). The parts are in
/// order, cover [0, n) exactly once, and differ in size by at most one item; parts past the
/// end are empty. Requires nth >= 1 and ith < nth.
inline Range partition(std::size_t n, std::size_t nth, std::size_t ith) {
  const std::size_t base = n / nth;
  const std::size_t extra = n % nth;
  const std::size_t begin = ith * base + std::min(ith, extra);
  return {begin, begin + base + (ith < extra ? 1 : 0)};
}

/// Like partition(), but every boundary except the last is a multiple of `align` items, so
/// that slices of a float buffer start on cache lines (align = 16 floats = 64 bytes) and two
/// workers never write the same line. Requires align >= 1.
inline Range partition_aligned(std::size_t n, std::size_t nth, std::size_t ith, std::size_t align) {
  const std::size_t blocks = (n + align - 1) / align;
  const Range r = partition(blocks, nth, ith);
  return {std::min(r.begin * align, n), std::min(r.end * align, n)};
}

}  // namespace dptrain::parallel
