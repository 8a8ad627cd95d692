#pragma once
// Which weight rows each worker owns in the owner-computes update (Note [Owner computes] in
// src/engine/owner_update.cpp). Internal to the library; the CLI's cost model and the tests
// mirror the engine's tiling with it. Pure functions of sizes.
#include <cstddef>
#include <span>
#include <vector>

namespace dptrain {

/// Gradient values per weight tile (a tile's rows x the layer's outputs).
inline constexpr std::size_t kTileValues = 262144;

/// Rows [begin, end) of dense layer `layer`'s weights.
struct WeightTile {
  std::size_t layer = 0, begin = 0, end = 0;
};

/// The weight tiles worker w of `workers` owns in a model of layer widths `widths` (dense
/// layer k maps widths[k] to widths[k + 1]); `deterministic` gives the shape-only tiling.
/// Throws std::invalid_argument unless w < workers and widths.size() >= 2.
std::vector<WeightTile> owned_weight_tiles(std::span<const std::size_t> widths, std::size_t w,
                                           std::size_t workers, bool deterministic);

/// Rows of the first tile when a whole layer of `in` x `out` weights is cut (one worker).
std::size_t weight_tile_rows(std::size_t in, std::size_t out);

}  // namespace dptrain
