#include "dptrain/shuffle.hpp"

#include <algorithm>
#include <numeric>

#include "dptrain/rng.hpp"

namespace dptrain {

// Note [Windowed shuffle]. Training on a memory-mapped file larger than memory cannot visit the
// rows in a uniform permutation of all of them: each step would read rows from everywhere in
// the file, and every read would be a page fault to disk. With --shuffle window an epoch cuts
// the rows into blocks of B consecutive rows (B = max(1, 4 MiB / row bytes), or
// TrainConfig::shuffle_block_rows), visits the blocks
// in a shuffled order (Fisher-Yates, from hash_position(seed, kStreamShuffle, epoch, 1)), and
// shuffles the rows of each window of 16 consecutive blocks of that order together (from
// hash_position(seed, kStreamShuffle, epoch, 2)); the steps take the window's rows in that
// order, batch after batch. The order is a pure function of (rows, features, seed, epoch): the
// same for any --threads, so --deterministic's promise holds, and a resumed epoch finds its
// place.
//
// What it changes in the mathematics: every row is still visited exactly once per epoch, and a
// row is equally likely to be at any window's positions (the block order is uniform), so each
// step's gradient is still an unbiased estimate of the full gradient, and an epoch's steps
// still sum the gradient of every row once. What is lost is the independence of the rows in a
// batch: a batch draws from the 16 blocks of its window (16 B rows), not from the whole set, so
// rows that lie close in the file are trained together and consecutive steps (a window is 16 B
// / batch steps) see correlated data. On a file sorted by label or time this raises the
// variance of the steps; shuffle such a file once before training from it. The window then
// bounds what must be in memory: the window being trained and the next one, which a reader
// thread pages in ahead of the steps while the windows behind are dropped
// (src/shuffle_prefetch.hpp).

void full_order(std::vector<std::uint32_t>& order, std::size_t n, bool shuffle, std::uint64_t seed,
                std::uint64_t epoch) {
  order.resize(n);
  std::iota(order.begin(), order.end(), 0u);
  if (!shuffle) return;
  Rng rng(hash_position(seed, kStreamShuffle, epoch));
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
}

ShuffleWindows::ShuffleWindows(std::size_t n, std::size_t features, std::size_t block)
    : rows(n), block_rows(block) {
  if (block_rows == 0)
    block_rows = std::max<std::size_t>(1, kBlockBytes / (std::max<std::size_t>(1, features) * 4));
}

std::size_t WindowedOrder::window_of(std::size_t pos) const {
  return std::size_t(std::upper_bound(windows.begin(), windows.end(), pos) - windows.begin()) - 1;
}

WindowedOrder windowed_order(const ShuffleWindows& layout, std::uint64_t seed,
                             std::uint64_t epoch) {
  WindowedOrder o;
  const std::size_t blocks = layout.blocks(), b = layout.block_rows;
  o.block_order.resize(blocks);
  std::iota(o.block_order.begin(), o.block_order.end(), 0u);
  Rng rng(hash_position(seed, kStreamShuffle, epoch, 1));
  for (std::size_t i = blocks; i > 1; --i)
    std::swap(o.block_order[i - 1], o.block_order[rng.below(i)]);
  o.rows.reserve(layout.rows);
  Rng within(hash_position(seed, kStreamShuffle, epoch, 2));
  for (std::size_t k = 0; k < blocks; ++k) {
    if (k % ShuffleWindows::kWindowBlocks == 0) o.windows.push_back(o.rows.size());
    const std::size_t first = std::size_t(o.block_order[k]) * b;
    for (std::size_t r = first; r < std::min(layout.rows, first + b); ++r)
      o.rows.push_back(std::uint32_t(r));
    if (k + 1 == blocks || (k + 1) % ShuffleWindows::kWindowBlocks == 0) {
      const std::size_t start = o.windows.back();
      for (std::size_t i = o.rows.size() - start; i > 1; --i)
        std::swap(o.rows[start + i - 1], o.rows[start + within.below(i)]);
    }
  }
  o.windows.push_back(o.rows.size());
  return o;
}

}  // namespace dptrain
