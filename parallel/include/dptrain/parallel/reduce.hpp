#pragma once
// The reduce over per-worker buffers, in a fixed order.
#include <cstddef>
#include <span>

#include "dptrain/parallel/partition.hpp"

namespace dptrain::parallel {

/// out[j] = ((srcs[0][i] + srcs[1][i]) + srcs[2][i]) + ... with i = range.begin + j, for every i
/// in `range`, always in this order, so the result depends only on the inputs, never on which
/// thread runs it. `out` holds range.size() values; the reducer passes a small per-worker
/// scratch chunk, so the sum never travels back to memory (docs/DESIGN.md, "The buffers path:
/// fused reduce-scatter + update").
/// The inner loops are plain element-wise passes the compiler vectorises.
/// Requires srcs non-empty. Thread-safe for distinct `out`.
template <class T>
void sum_in_order(T* out, std::span<T* const> srcs, Range range) {
  const std::size_t n = range.size();
  const T* s0 = srcs[0] + range.begin;
  if (srcs.size() == 1) {
    for (std::size_t j = 0; j < n; ++j) out[j] = s0[j];
    return;
  }
  const T* s1 = srcs[1] + range.begin;
  for (std::size_t j = 0; j < n; ++j) out[j] = s0[j] + s1[j];
  for (std::size_t k = 2; k < srcs.size(); ++k) {
    const T* s = srcs[k] + range.begin;
    for (std::size_t j = 0; j < n; ++j) out[j] += s[j];
  }
}

}  // namespace dptrain::parallel
