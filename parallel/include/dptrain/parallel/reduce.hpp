#pragma once
// The reduce over per-worker buffers, in a fixed order.
#include <cstddef>
#include <span>

#include "dptrain/parallel/partition.hpp"

namespace dptrain::parallel {

/// dst[i] = ((srcs[0][i] + srcs[1][i]) + srcs[2][i]) + ... for i in `range`, always in this
/// order, so the result depends only on the inputs, never on which thread runs it. `dst` may be
/// srcs[0] (in-place). The inner loop is a plain element-wise pass the compiler vectorises.
/// Requires srcs non-empty. Thread-safe for disjoint ranges.
template <class T>
void sum_in_order(T* dst, std::span<T* const> srcs, Range range) {
  const std::size_t b = range.begin, e = range.end;
  const T* s0 = srcs[0];
  if (srcs.size() == 1) {
    if (dst != s0)
      for (std::size_t i = b; i < e; ++i) dst[i] = s0[i];
    return;
  }
  const T* s1 = srcs[1];
  for (std::size_t i = b; i < e; ++i) dst[i] = s0[i] + s1[i];
  for (std::size_t k = 2; k < srcs.size(); ++k) {
    const T* s = srcs[k];
    for (std::size_t i = b; i < e; ++i) dst[i] += s[i];
  }
}

}  // namespace dptrain::parallel
