// The engine's owner-computes weight gradients (Note [Owner computes] in engine.hpp): which
// weight rows each worker owns, and phase 2 of a step.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "dptrain/engine.hpp"
#include "dptrain/parallel/timer.hpp"

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

std::size_t Engine::share_index(std::size_t w, std::size_t workers) {
  return workers * (workers - 1) / 2 + w;
}

void Engine::plan_tiles() {
  const ModelSpec& spec = model_.spec();
  batch_ws_ = std::make_unique<Workspace<float>>(spec, config_.batch_size,
                                                 GemmContext{config_.gemm, nullptr, nullptr, config_.kernels.get()});
  std::vector<std::size_t> widths{spec.inputs};
  for (const DenseLayout& d : model_.dense_layers()) widths.push_back(d.out);
  const std::size_t most = workspaces_.size();
  shares_.assign(share_index(0, most + 1), {});
  std::size_t scratch = 0;
  for (std::size_t workers = 1; workers <= most; ++workers)
    for (std::size_t w = 0; w < workers; ++w) {
      auto& share = shares_[share_index(w, workers)];
      share = owned_weight_tiles(widths, w, workers, config_.deterministic);
      for (const WeightTile& t : share)
        scratch =
            std::max(scratch, std::max<std::size_t>(t.end - t.begin, 1) * widths[t.layer + 1]);
    }
  for (std::size_t w = 0; w < workspaces_.size(); ++w) tile_scratch_.emplace_back(scratch);
}

void Engine::owned_gradients(std::size_t w, std::size_t workers, std::size_t rows,
                             double learning_rate, std::uint64_t t, bool update) {
  parallel::ScopedTimer busy(timing_ && update ? &busy_ru_[w] : nullptr);
  const std::span<float> params = model_.parameters();
  const GemmContext& gemm_context = workspaces_[w].gemm();
  float* g = tile_scratch_[w].data();
  for (const WeightTile& tile : shares_[share_index(w, workers)]) {
    const DenseLayout& d = model_.dense_layers()[tile.layer];
    const float* x = batch_ws_->dense_input(tile.layer);   // rows x in
    const float* dz = batch_ws_->dense_delta(tile.layer);  // rows x out, already scaled by 1/B
    const std::size_t m = tile.end - tile.begin;
    // dW[begin:end, :] = x[:, begin:end]^T dz: the whole batch in one product.
    gemm<float>(gemm_context, Transpose::yes, Transpose::no, m, d.out, rows, 1.0f, x + tile.begin,
                d.in, dz, d.out, 0.0f, g, d.out);
    if (update)
      optimizer_.update_range(params, d.weight_offset + tile.begin * d.out,
                              std::span<const float>(g, m * d.out), learning_rate, t);
    if (tile.begin != 0) continue;
    std::fill_n(g, d.out, 0.0f);  // the bias gradient rides with the layer's first tile
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < d.out; ++c) g[c] += dz[r * d.out + c];
    if (update)
      optimizer_.update_range(params, d.bias_offset, std::span<const float>(g, d.out),
                              learning_rate, t);
  }
}

}  // namespace dptrain
