#pragma once
// Phase 2 of a step (Note [The step] in src/engine/engine.cpp): form the weight gradients and
// apply the optimizer. The engine picks one strategy at construction (make_weight_update) and
// calls it the same way every step:
//  - OwnerUpdate (owner_update.cpp): each worker's weight tiles over the whole batch, read from
//    the batch's activations and deltas (Note [Owner computes]);
//  - BufferUpdate (buffer_update.cpp): per-unit gradient buffers summed by a Reducer, in process
//    and across ranks, with the bf16 parameter copy refreshed as it goes (Note [bf16 weight
//    copy] in buffer_update.cpp).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dptrain/engine.hpp"

namespace dptrain::detail {

/// What a strategy works on, all owned by the engine, which outlives it.
struct UpdateContext {
  Model<float>& model;
  OptimizerState<float>& optimizer;
  parallel::WorkerPool& pool;                 // the step's pool (G leaders with groups)
  std::vector<Workspace<float>>& workspaces;  // one per worker: scratch and kernels
  Activations<float>& activations;            // the batch's: this rank's rows from row 0
  const EngineConfig& config;
};

/// Bytes a strategy allocated.
struct UpdateBytes {
  std::size_t gradients = 0;         // gradient buffers, or tile scratch
  std::size_t one_buffer = 0;        // one unit's gradient buffer (0 without buffers)
  std::size_t reducer = 0;           // reduce scratch and rank exchange
  std::size_t per_extra_worker = 0;  // what one more worker adds here
};

class WeightUpdate {
 public:
  virtual ~WeightUpdate() = default;
  virtual WeightGradients kind() const = 0;
  /// Where phase 1's backward writes unit u's whole gradient, or null: deltas only.
  virtual float* unit_gradients(std::size_t u) = 0;
  /// Phase 2 of a step cut as `p`, as optimizer step t; adds each worker's busy seconds into
  /// `busy` (empty: not timed). Returns the seconds spent exchanging with other ranks.
  virtual double update(const parallel::RowPartition& p, double learning_rate, std::uint64_t t,
                        std::span<double> busy) = 0;
  /// Engine::loss_gradient: phase 2 without the update: adds the whole gradient of the rows cut
  /// as `p` (phase 1 scaled it) into `sum` (the parameter layout), over ranks too.
  virtual void add_gradient(const parallel::RowPartition& p, std::span<float> sum) = 0;
  /// Engine::prepare: creates phase 2's kernel state for steps cut as `p`, updating nothing.
  virtual void prepare(const parallel::RowPartition& p) = 0;
  /// Sums the step's loss and metric sums over ranks, in place (one process: unchanged).
  virtual void sum_scalars(std::span<double> sums) = 0;
  /// The parameters were written outside a step (Engine::parameters_changed).
  virtual void parameters_changed() = 0;
  virtual UpdateBytes bytes() const = 0;
};

/// OwnerUpdate where the config asks for it (automatic: fp32, data, one process), else
/// BufferUpdate with `units` gradient buffers.
std::unique_ptr<WeightUpdate> make_weight_update(const UpdateContext& c, std::size_t units);

std::unique_ptr<WeightUpdate> make_owner_update(const UpdateContext& c);
std::unique_ptr<WeightUpdate> make_buffer_update(const UpdateContext& c, std::size_t units);

}  // namespace dptrain::detail
