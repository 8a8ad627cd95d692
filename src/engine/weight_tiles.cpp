// The owner-computes tiling (src/engine/weight_tiles.hpp).
#include "weight_tiles.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dptrain {

namespace {

constexpr std::size_t kRowAlign = 16;  // products with fewer rows ran at a fraction of the rate

std::size_t round_rows(double rows) {
  return std::size_t(std::llround(rows / double(kRowAlign))) * kRowAlign;
}

/// The most rows a tile of a layer with `out` outputs has: kTileValues values, kRowAlign rows.
std::size_t most_tile_rows(std::size_t out) {
  return std::max(kRowAlign, kTileValues / std::max<std::size_t>(out, 1) / kRowAlign * kRowAlign);
}

/// Rows [begin, end) of dense layer `layer` cut into nearly equal tiles on kRowAlign boundaries.
void add_tiles(std::vector<WeightTile>& out, std::size_t layer, std::size_t out_cols,
               std::size_t begin, std::size_t end) {
  if (begin >= end) return;
  const std::size_t most = most_tile_rows(out_cols);
  const std::size_t parts = (end - begin + most - 1) / most;
  std::size_t a = begin;
  for (std::size_t i = 1; i <= parts; ++i) {
    const double share = double(end - begin) * double(i) / double(parts);
    const std::size_t b = i == parts ? end : std::min(end, begin + round_rows(share));
    if (b > a) out.push_back({layer, a, b});
    a = std::max(a, b);
  }
}

}  // namespace

std::size_t weight_tile_rows(std::size_t in, std::size_t out) {
  std::vector<WeightTile> tiles;
  add_tiles(tiles, 0, out, 0, in);
  return tiles.empty() ? 0 : tiles.front().end;
}

std::vector<WeightTile> owned_weight_tiles(std::span<const std::size_t> widths, std::size_t w,
                                           std::size_t workers, bool deterministic) {
  if (workers == 0 || w >= workers || widths.size() < 2)
    throw std::invalid_argument("owned_weight_tiles: precondition w < workers failed");
  const std::size_t layers = widths.size() - 1;
  // A weight row's gradient costs 2 x B x out FLOPs; B is common to all and left out.
  std::vector<double> cost_before(layers);
  double total = 0;
  for (std::size_t k = 0; k < layers; ++k) {
    cost_before[k] = total;
    total += double(widths[k]) * double(widths[k + 1]);
  }
  std::vector<WeightTile> mine;
  if (deterministic) {  // the tiles of one worker, each to the worker holding its middle
    for (std::size_t k = 0; k < layers; ++k) {
      std::vector<WeightTile> tiles;
      add_tiles(tiles, k, widths[k + 1], 0, widths[k]);
      for (const WeightTile& t : tiles) {
        const double middle =
            cost_before[k] + 0.5 * double(t.begin + t.end) * double(widths[k + 1]);
        if (std::min(workers - 1, std::size_t(middle / total * double(workers))) == w)
          mine.push_back(t);
      }
    }
    return mine;
  }
  // Where share v starts in layer k: the row at v / workers of the total cost.
  auto start = [&](std::size_t k, std::size_t v) {
    if (v == workers) return widths[k];
    const double at = total * double(v) / double(workers) - cost_before[k];
    return std::min(widths[k], round_rows(std::max(0.0, at / double(widths[k + 1]))));
  };
  for (std::size_t k = 0; k < layers; ++k)
    add_tiles(mine, k, widths[k + 1], start(k, w), start(k, w + 1));
  return mine;
}

}  // namespace dptrain
