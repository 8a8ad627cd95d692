// The engine's owner-computes weight gradients (Note [Owner computes] in engine.hpp): the weight
// tiles and phase 2 of a step.
#include <algorithm>
#include <cmath>

#include "dptrain/engine.hpp"
#include "dptrain/parallel/timer.hpp"

namespace dptrain {

void Engine::plan_tiles() {
  const ModelSpec& spec = model_.spec();
  batch_ws_ = std::make_unique<Workspace<float>>(spec, config_.batch_size,
                                                 GemmContext{config_.gemm, nullptr});
  const double batch = double(config_.batch_size);  // for the cost split only
  std::size_t scratch = 0;
  for (std::size_t k = 0; k < model_.dense_layers().size(); ++k) {
    const DenseLayout& d = model_.dense_layers()[k];
    // Tiles of about 64 Ki gradient values (256 KB of scratch, in L2 while it is updated), rows
    // a multiple of 16: products with fewer rows ran at a fraction of the GEMM rate. A function
    // of the layer's shape only: the same products for any thread count and batch size
    // (Note [Reproducibility]). B's 1024 x 1024 layer has 16 tiles of 64 rows.
    const std::size_t rows =
        std::min(std::max<std::size_t>(16, (kTileValues / d.out + 15) / 16 * 16), d.in);
    for (std::size_t a = 0; a < d.in; a += rows) {
      const std::size_t b = std::min(a + rows, d.in);
      const double cost =
          2.0 * batch * double(b - a) * double(d.out) + (a == 0 ? batch * d.out : 0);
      tiles_.push_back({k, a, b, tile_cost_total_, cost});
      tile_cost_total_ += cost;
      scratch = std::max(scratch, std::max(b - a, std::size_t(1)) * d.out);
    }
  }
  for (std::size_t w = 0; w < workspaces_.size(); ++w) tile_scratch_.emplace_back(scratch);
}

std::size_t Engine::tile_owner(const GradTile& tile, std::size_t workers) const {
  const double middle = (tile.cost_before + 0.5 * tile.cost) / tile_cost_total_;
  return std::min(workers - 1, std::size_t(middle * double(workers)));
}

void Engine::owned_gradients(std::size_t w, std::size_t workers, std::size_t rows,
                             double learning_rate, std::uint64_t t, bool update) {
  parallel::ScopedTimer busy(timing_ && update ? &busy_ru_[w] : nullptr);
  const std::span<float> params = model_.parameters();
  const GemmContext& gemm_context = workspaces_[w].gemm();
  float* g = tile_scratch_[w].data();
  for (const GradTile& tile : tiles_) {
    if (tile_owner(tile, workers) != w) continue;
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
