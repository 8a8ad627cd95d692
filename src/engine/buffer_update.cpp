// BufferUpdate: phase 2 through per-unit gradient buffers (src/engine/weight_update.hpp). Phase
// 1 writes each unit's whole gradient into the unit's own buffer; the Reducer
// (parallel/reducer.hpp) then sums the buffers slice by slice in unit order and applies the
// optimizer to each slice as soon as it is summed (fused reduce-scatter + update; the parameters
// are shared, so there is nothing to all-gather). Across ranks the RankReducer exchanges the sums
// first (Note [Ranks] in engine.hpp).
//
// Note [bf16 weight copy]. With bf16 precision (Note [Precision] in engine.hpp) the products
// read a bf16 copy of the parameters that this strategy owns (Workspace::enable_bf16); the fused
// update rewrites each chunk of it right after updating the chunk's fp32 values, while they are
// still in cache, so the copy never lags a step and costs no pass of its own. The fp32 values
// and the optimizer state stay the master copy; parameters_changed() rewrites the whole copy
// after writes outside a step (restore, early stopping).
#include <vector>

#include "dptrain/aligned_buffer.hpp"
#include "dptrain/bf16.hpp"
#include "dptrain/rank_reducer.hpp"
#include "weight_update.hpp"

namespace dptrain::detail {

namespace {

std::unique_ptr<parallel::Reducer> make_reducer(const EngineConfig& c, std::size_t params,
                                                std::size_t workers) {
  if (c.communicator)
    return std::make_unique<RankReducer>(*c.communicator, params, workers, c.deterministic);
  return std::make_unique<parallel::InProcessReducer>(workers);
}

class BufferUpdate final : public WeightUpdate {
 public:
  BufferUpdate(const UpdateContext& c, std::size_t units);
  WeightGradients kind() const override { return WeightGradients::buffers; }
  float* unit_gradients(std::size_t u) override { return gradients_[u].data(); }
  double update(const parallel::RowPartition& p, double learning_rate, std::uint64_t t,
                std::span<double> busy) override;
  void add_gradient(const parallel::RowPartition& p, std::span<float> sum) override;
  void prepare(const parallel::RowPartition&) override {}
  void sum_scalars(std::span<double> sums) override { reducer_->sum_scalars(sums); }
  void parameters_changed() override {
    if (bf16_parameters_.size())
      to_bf16(c_.model.parameters().data(), bf16_parameters_.data(), bf16_parameters_.size());
  }
  UpdateBytes bytes() const override {
    UpdateBytes b;
    b.one_buffer = gradients_.front().bytes();
    b.gradients = gradients_.size() * b.one_buffer;
    b.reducer = reducer_->bytes();
    // A worker more: its reduce slice, and a buffer unless the units are micro-batches.
    const bool own_unit = !c_.config.deterministic && c_.workspaces.size() > 1;
    b.per_extra_worker = kUpdateChunk * sizeof(float) + (own_unit ? b.one_buffer : 0);
    return b;
  }

 private:
  UpdateContext c_;
  std::unique_ptr<parallel::Reducer> reducer_;
  std::vector<AlignedBuffer<float>> gradients_;  // one per unit, the parameter layout
  std::vector<float*> active_;                   // reserved; the non-empty units of a step
  AlignedBuffer<bf16> bf16_parameters_;          // Note [bf16 weight copy]; empty in fp32
};

BufferUpdate::BufferUpdate(const UpdateContext& c, std::size_t units)
    : c_(c), reducer_(make_reducer(c.config, c.model.parameter_count(), c.pool.size())) {
  for (std::size_t u = 0; u < units; ++u) gradients_.emplace_back(c_.model.parameter_count());
  active_.reserve(units);
  if (c_.config.precision == Precision::bf16) {
    bf16_parameters_ = AlignedBuffer<bf16>(c_.model.parameter_count());
    for (auto& ws : c_.workspaces) ws.enable_bf16(c_.model.spec(), bf16_parameters_.data());
    parameters_changed();
  }
}

double BufferUpdate::update(const parallel::RowPartition& p, double learning_rate, std::uint64_t t,
                            std::span<double> busy) {
  active_.clear();
  for (std::size_t u = 0; u < p.units; ++u)
    if (!p.unit_rows(u).empty()) active_.push_back(gradients_[u].data());
  const std::span<float> params = c_.model.parameters();
  return reducer_->reduce_update(
      c_.pool, p.workers, active_, params.size(),
      [&](std::size_t begin, std::span<const float> grad) {
        c_.optimizer.update_range(params, begin, grad, learning_rate, t);
        // Note [bf16 weight copy]: the chunk's bf16 copy while it is still in cache.
        if (bf16_parameters_.size())
          to_bf16(params.data() + begin, bf16_parameters_.data() + begin, grad.size());
      },
      busy);
}

void BufferUpdate::add_gradient(const parallel::RowPartition& p, std::span<float> sum) {
  active_.clear();
  for (std::size_t u = 0; u < p.units; ++u)
    if (!p.unit_rows(u).empty()) active_.push_back(gradients_[u].data());
  reducer_->reduce_update(c_.pool, p.workers, active_, sum.size(),
                          [&](std::size_t begin, std::span<const float> grad) {
                            float* out = sum.data() + begin;
                            for (std::size_t i = 0; i < grad.size(); ++i) out[i] += grad[i];
                          },
                          {});
}

}  // namespace

std::unique_ptr<WeightUpdate> make_buffer_update(const UpdateContext& c, std::size_t units) {
  return std::make_unique<BufferUpdate>(c, units);
}

}  // namespace dptrain::detail
