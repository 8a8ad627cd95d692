// OwnerUpdate: phase 2 as owner-computed weight tiles (src/engine/weight_update.hpp).
//
// Note [Owner computes]. Per-unit gradient buffers cost W copies of the parameters written and
// read back every step, traffic that grows with W while each worker's products shrink. So
// in-process fp32 data-parallel steps form the weight gradients the other way round (after
// libxsmm's MLP samples): phase 1 computes only the deltas (dL/dz) and input gradients, into the
// batch's activations at each unit's rows, against the weights before the update. Phase 2 shares
// the dense layers' weight rows out by cost: worker w of W owns the rows in [w/W, (w+1)/W) of the
// gradient cost (16-row boundaries), cut into tiles of at most kTileValues values
// (weight_tiles.hpp); it computes each tile's gradient over the whole batch in one product
// (K = B) and applies the optimizer to it at once from a per-worker scratch that stays in L2.
// No buffers, no reduce pass: what moves is B x (fan_in + fan_out) per layer, whatever W is.
// The shares depend on W; with `deterministic` the tiles are those of W = 1 dealt out by cost,
// so each tile's product and sum order, and the bits, do not depend on W. Buffers remain for
// bf16, intra and ranks (whose exchange needs whole gradients).
#include <algorithm>
#include <vector>

#include "dptrain/aligned_buffer.hpp"
#include "dptrain/parallel/timer.hpp"
#include "weight_tiles.hpp"
#include "weight_update.hpp"

namespace dptrain::detail {

namespace {

class OwnerUpdate final : public WeightUpdate {
 public:
  explicit OwnerUpdate(const UpdateContext& c);
  WeightGradients kind() const override { return WeightGradients::owner; }
  float* unit_gradients(std::size_t) override { return nullptr; }
  double update(const parallel::RowPartition& p, double learning_rate, std::uint64_t t,
                std::span<double> busy) override {
    c_.pool.run(p.workers, [&](std::size_t w) {
      parallel::ScopedTimer timer(busy.empty() ? nullptr : &busy[w]);
      owned_gradients(w, p.workers, p.local.size(), learning_rate, t, true, nullptr);
    });
    return 0;
  }
  void add_gradient(const parallel::RowPartition& p, std::span<float> sum) override {
    c_.pool.run(p.workers, [&](std::size_t w) {
      owned_gradients(w, p.workers, p.local.size(), 0, 0, false, sum.data());
    });
  }
  void prepare(const parallel::RowPartition& p) override {
    c_.pool.run(p.workers, [&](std::size_t w) {
      owned_gradients(w, p.workers, p.local.size(), 0, 0, false, nullptr);
    });
  }
  void sum_scalars(std::span<double>) override {}
  void parameters_changed() override {}
  UpdateBytes bytes() const override {
    UpdateBytes b;
    for (const auto& t : tile_scratch_) b.gradients += t.bytes();
    b.per_extra_worker = tile_scratch_.back().bytes();
    return b;
  }

 private:
  // Worker w's tiles when W workers run are shares_[share_index(w, W)], planned up front.
  static std::size_t share_index(std::size_t w, std::size_t workers) {
    return workers * (workers - 1) / 2 + w;
  }
  void owned_gradients(std::size_t w, std::size_t workers, std::size_t rows, double learning_rate,
                       std::uint64_t t, bool update, float* sum);

  UpdateContext c_;
  std::vector<std::vector<WeightTile>> shares_;
  std::vector<AlignedBuffer<float>> tile_scratch_;  // one tile's gradient per worker
};

OwnerUpdate::OwnerUpdate(const UpdateContext& c) : c_(c) {
  std::vector<std::size_t> widths{c_.model.spec().inputs};
  for (const DenseLayout& d : c_.model.dense_layers()) widths.push_back(d.out);
  const std::size_t most = c_.workspaces.size();
  shares_.assign(share_index(0, most + 1), {});
  std::size_t scratch = 0;
  for (std::size_t workers = 1; workers <= most; ++workers)
    for (std::size_t w = 0; w < workers; ++w) {
      auto& share = shares_[share_index(w, workers)];
      share = owned_weight_tiles(widths, w, workers, c_.config.deterministic);
      for (const WeightTile& t : share)
        scratch =
            std::max(scratch, std::max<std::size_t>(t.end - t.begin, 1) * widths[t.layer + 1]);
    }
  for (std::size_t w = 0; w < most; ++w) tile_scratch_.emplace_back(scratch);
}

// Phase 2 on worker w (update false: only the products, for prepare(), or added into `sum`, the
// parameter layout, for add_gradient(): each worker adds its own tiles, so no two write alike).
void OwnerUpdate::owned_gradients(std::size_t w, std::size_t workers, std::size_t rows,
                                  double learning_rate, std::uint64_t t, bool update, float* sum) {
  auto add = [sum](std::size_t begin, const float* g, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) sum[begin + i] += g[i];
  };
  const std::span<float> params = c_.model.parameters();
  const GemmContext& gemm_context = c_.workspaces[w].gemm();
  const ActivationRows<float> batch = c_.activations.rows(0);
  float* g = tile_scratch_[w].data();
  for (const WeightTile& tile : shares_[share_index(w, workers)]) {
    const DenseLayout& d = c_.model.dense_layers()[tile.layer];
    const float* x = batch.dense_input(tile.layer);  // rows x in
    const float* dz = batch.delta(tile.layer);       // rows x out, already scaled by 1/B
    const std::size_t m = tile.end - tile.begin;
    // dW[begin:end, :] = x[:, begin:end]^T dz: the whole batch in one product.
    gemm<float>(gemm_context, Transpose::yes, Transpose::no, m, d.out, rows, 1.0f, x + tile.begin,
                d.in, dz, d.out, 0.0f, g, d.out);
    if (update)
      c_.optimizer.update_range(params, d.weight_offset + tile.begin * d.out,
                                std::span<const float>(g, m * d.out), learning_rate, t);
    if (sum) add(d.weight_offset + tile.begin * d.out, g, m * d.out);
    if (tile.begin != 0) continue;
    std::fill_n(g, d.out, 0.0f);  // the bias gradient rides with the layer's first tile
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < d.out; ++c) g[c] += dz[r * d.out + c];
    if (update)
      c_.optimizer.update_range(params, d.bias_offset, std::span<const float>(g, d.out),
                                learning_rate, t);
    if (sum) add(d.bias_offset, g, d.out);
  }
}

}  // namespace

std::unique_ptr<WeightUpdate> make_owner_update(const UpdateContext& c) {
  return std::make_unique<OwnerUpdate>(c);
}

}  // namespace dptrain::detail
