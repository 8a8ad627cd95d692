#pragma once
// Which rows of a global minibatch each unit of work computes. Pure functions of sizes, safe
// from any thread. The engine's Note [Ranks] and Note [Reproducibility] (engine.hpp) say why
// the units are cut this way.
#include <cstddef>

#include "dptrain/parallel/function_ref.hpp"
#include "dptrain/parallel/partition.hpp"

namespace dptrain::parallel {

/// One process's share of a step of `batch` global rows.
///  - Without micro-batches: this rank's rows are partition(batch, ranks, rank), cut into one
///    contiguous unit per worker.
///  - With `micro_batches` = M > 0: the batch is cut into M micro-batches independent of the
///    worker count; this rank owns micro-batches partition(M, ranks, rank), one unit each, and
///    its workers share the units contiguously.
struct RowPartition {
  std::size_t batch = 0;          ///< global rows of the step
  std::size_t micro_batches = 0;  ///< M, or 0 for one unit per worker
  std::size_t first_micro = 0;    ///< this rank's first micro-batch
  Range local;                    ///< this rank's rows (indices into the global batch)
  std::size_t units = 0;          ///< this rank's units
  std::size_t workers = 1;        ///< workers that run the units (1 <= workers)

  /// Rows of unit u (u < units) as indices into the global batch; may be empty.
  Range unit_rows(std::size_t u) const {
    if (micro_batches) return partition(batch, micro_batches, first_micro + u);
    const Range r = partition(local.size(), units, u);
    return {local.begin + r.begin, local.begin + r.end};
  }
  /// The units worker w runs, in order.
  Range worker_units(std::size_t w) const { return partition(units, workers, w); }
};

/// Cuts a step's rows into units. `workers_for(rows)` says how many workers this rank's rows
/// deserve (at least 1); with micro-batches the partition uses no more workers than units, and
/// a rank without rows one worker. Requires batch >= 1, ranks >= 1, rank < ranks.
inline RowPartition partition_rows(std::size_t batch, std::size_t ranks, std::size_t rank,
                                   std::size_t micro_batches,
                                   FunctionRef<std::size_t(std::size_t)> workers_for) {
  RowPartition p;
  p.batch = batch;
  p.micro_batches = micro_batches;
  if (micro_batches) {
    const Range mine = partition(micro_batches, ranks, rank);
    p.first_micro = mine.begin;
    p.units = mine.size();
    p.local = mine.empty() ? Range{0, 0}
                           : Range{partition(batch, micro_batches, mine.begin).begin,
                                   partition(batch, micro_batches, mine.end - 1).end};
    const std::size_t w = p.local.empty() ? 1 : workers_for(p.local.size());
    p.workers = std::max<std::size_t>(1, std::min(w, p.units));
  } else {
    p.local = partition(batch, ranks, rank);
    p.workers = p.local.empty() ? 1 : std::max<std::size_t>(1, workers_for(p.local.size()));
    p.units = p.workers;
  }
  return p;
}

}  // namespace dptrain::parallel
