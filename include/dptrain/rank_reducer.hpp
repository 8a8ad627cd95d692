#pragma once
// The reducer across ranks (Note [Ranks] in engine.hpp), built on the in-process one: the
// fused pass splits in three because the in-process sum must exist whole before the exchange.
//   1. workers sum this process's unit buffers, slice by slice in unit order, into an exchange
//      buffer (zeros when this rank has no rows in the step);
//   2. the driving thread exchanges the buffer with the other ranks (Communicator::allreduce_sum);
//   3. workers apply the update to their slices of the exchanged sum.
#include <cstddef>
#include <span>

#include "dptrain/aligned_buffer.hpp"
#include "dptrain/distributed.hpp"
#include "dptrain/parallel/reducer.hpp"

namespace dptrain {

class RankReducer final : public parallel::Reducer {
 public:
  /// Sums of up to `n` floats on up to `max_workers` workers; allocates the exchange buffer and
  /// reserves the communicator's buffers here. `comm` must outlive the reducer.
  RankReducer(Communicator& comm, std::size_t n, std::size_t max_workers, bool deterministic);

  /// `sources` may be empty (no rows on this rank). Collective: every rank calls it per step.
  double reduce_update(parallel::WorkerPool& pool, std::size_t workers,
                       std::span<float* const> sources, std::size_t n, parallel::SliceUpdate update,
                       std::span<double> worker_busy) override;
  void sum_scalars(std::span<double> values) override;

  std::size_t bytes() const override { return exchange_.bytes() + in_process_.bytes(); }

 private:
  Communicator& comm_;
  bool deterministic_;
  AlignedBuffer<float> exchange_;
  parallel::InProcessReducer in_process_;
};

}  // namespace dptrain
