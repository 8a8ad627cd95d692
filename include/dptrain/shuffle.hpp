#pragma once
// The order in which an epoch visits the rows: a uniform permutation of all of them (the
// default), or shuffled blocks within shuffled windows for data read from a memory-mapped file
// larger than memory (Note [Windowed shuffle] in src/shuffle.cpp).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dptrain/names.hpp"

namespace dptrain {

enum class ShuffleMode {
  full,    ///< a uniform random permutation of all rows per epoch
  window,  ///< blocks of rows in a shuffled order, rows shuffled within windows of blocks
};

/// The rows 0 .. n - 1 into `order`: with `shuffle`, in the uniform permutation of epoch `epoch`
/// (0-based; Fisher-Yates from hash_position(seed, kStreamShuffle, epoch)), else in order.
void full_order(std::vector<std::uint32_t>& order, std::size_t n, bool shuffle, std::uint64_t seed,
                std::uint64_t epoch);

/// Note [Name tables].
inline constexpr NameTable<ShuffleMode, 2> kShuffleModeNames{
    "shuffle mode", {{{ShuffleMode::full, "full"}, {ShuffleMode::window, "window"}}}};
static_assert(kShuffleModeNames.complete_through(ShuffleMode::window));
inline const char* shuffle_mode_name(ShuffleMode mode) {
  return kShuffleModeNames.name(mode);
}

/// The layout of a windowed shuffle over `rows` rows of `features` float32 values: blocks of
/// `block_rows` consecutive rows (0: max(1, 4 MiB / row bytes)), windows of 16 blocks (64 MiB
/// of rows by default).
struct ShuffleWindows {
  static constexpr std::size_t kBlockBytes = std::size_t(4) << 20;
  static constexpr std::size_t kWindowBlocks = 16;
  std::size_t rows = 0, block_rows = 1;
  ShuffleWindows(std::size_t rows, std::size_t features, std::size_t block_rows = 0);
  std::size_t blocks() const { return (rows + block_rows - 1) / block_rows; }
  std::size_t window_rows() const { return block_rows * kWindowBlocks; }
};

/// An epoch's windowed order: every row once; windows[w] .. windows[w + 1] the positions of
/// window w (the rows of blocks block_order[16w .. 16w + 15], shuffled together).
struct WindowedOrder {
  std::vector<std::uint32_t> rows;
  std::vector<std::uint32_t> block_order;
  std::vector<std::size_t> windows;  ///< window starts, then rows.size()
  /// The window holding position `pos` (< rows.size()).
  std::size_t window_of(std::size_t pos) const;
};

/// The windowed order of epoch `epoch` (0-based): a pure function of (layout, seed, epoch),
/// whatever the thread count.
WindowedOrder windowed_order(const ShuffleWindows& layout, std::uint64_t seed, std::uint64_t epoch);

}  // namespace dptrain
