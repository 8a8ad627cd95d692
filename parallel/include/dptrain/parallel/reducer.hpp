#pragma once
// The reduce behind the step: sum the units' gradient buffers and apply the update.
//
// A Reducer sees float spans and pool tasks only; what "update" means (an optimizer over a
// model's flat parameters) is the caller's callback. InProcessReducer is the fused
// reduce-scatter + update of one process (Note [The step] in src/engine/engine.cpp); the library
// adds a reducer that exchanges sums between processes (dptrain/rank_reducer.hpp).
#include <cstddef>
#include <span>

#include "dptrain/parallel/function_ref.hpp"
#include "dptrain/parallel/pool.hpp"

namespace dptrain::parallel {

/// update(begin, grad): apply the summed gradient `grad` to elements [begin, begin + size).
/// Called concurrently for disjoint ranges, each element exactly once per reduce_update.
using SliceUpdate = FunctionRef<void(std::size_t begin, std::span<const float> grad)>;

class Reducer {
 public:
  virtual ~Reducer() = default;

  /// Sums `sources` (buffers of n floats each) element-wise in source order, and hands the sum
  /// of every element to `update` exactly once, on the first `workers` workers of `pool`.
  /// `sources` may be empty only for reducers that exchange with other processes (this process
  /// then contributes zeros). `worker_busy`, when not empty (>= workers entries), receives each
  /// worker's busy seconds added to it. Returns the seconds spent exchanging with other
  /// processes (0 in one process). Call from the thread that drives the pool.
  virtual double reduce_update(WorkerPool& pool, std::size_t workers,
                               std::span<float* const> sources, std::size_t n, SliceUpdate update,
                               std::span<double> worker_busy) = 0;

  /// Sums `values` over the participating processes, in place (nothing to do in one process).
  virtual void sum_scalars(std::span<double> values) { (void)values; }

  /// Bytes of scratch (and exchange buffers) this reducer holds.
  virtual std::size_t bytes() const = 0;
};

/// Fused reduce-scatter + update in one process: the index space is cut into cache-line-aligned
/// slices, one per worker; worker j sums its slice chunk by chunk into a private L1-sized
/// scratch chunk, in source order, and updates the chunk at once, so the sum never travels
/// back to memory. The result depends only on the sources and their order, never on `workers`.
class InProcessReducer final : public Reducer {
 public:
  /// Floats summed per chunk: 16 KB, stays in L1.
  static constexpr std::size_t kChunk = 4096;

  /// Scratch for up to `max_workers` workers, allocated here (reduce_update allocates nothing).
  explicit InProcessReducer(std::size_t max_workers);
  ~InProcessReducer() override;

  /// Requires sources non-empty and workers <= max_workers.
  double reduce_update(WorkerPool& pool, std::size_t workers, std::span<float* const> sources,
                       std::size_t n, SliceUpdate update, std::span<double> worker_busy) override;

  std::size_t bytes() const override;

  /// The fused pass of worker w of `workers` over [0, n): public for reducers that build on it.
  void reduce_slice(std::size_t w, std::size_t workers, std::span<float* const> sources,
                    std::size_t n, SliceUpdate update);

 private:
  std::size_t max_workers_;
  float* scratch_;  // max_workers x kChunk, 64-byte aligned
};

}  // namespace dptrain::parallel
