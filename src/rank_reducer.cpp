#include "dptrain/rank_reducer.hpp"

#include <chrono>
#include <stdexcept>

#include "dptrain/parallel/partition.hpp"
#include "dptrain/parallel/reduce.hpp"
#include "dptrain/parallel/timer.hpp"

namespace dptrain {

namespace {
constexpr std::size_t kLineFloats = kCacheLine / sizeof(float);
}  // namespace

RankReducer::RankReducer(Communicator& comm, std::size_t n, std::size_t max_workers,
                         bool deterministic)
    : comm_(comm), deterministic_(deterministic), exchange_(n), in_process_(max_workers) {
  comm_.reserve(n);
}

double RankReducer::reduce_update(parallel::WorkerPool& pool, std::size_t workers,
                                  std::span<float* const> sources, std::size_t n,
                                  parallel::SliceUpdate update, std::span<double> worker_busy) {
  if (n > exchange_.size()) throw std::invalid_argument("RankReducer: more values than reserved");
  float* sum = exchange_.data();
  pool.run(workers, [&](std::size_t w) {
    parallel::ScopedTimer timer(worker_busy.empty() ? nullptr : &worker_busy[w]);
    const parallel::Range slice = parallel::partition_aligned(n, workers, w, kLineFloats);
    if (sources.empty())  // no rows on this rank this step: contribute zeros
      for (std::size_t i = slice.begin; i < slice.end; ++i) sum[i] = 0.0f;
    else
      parallel::sum_in_order(sum + slice.begin, sources, slice);
  });
  const auto t0 = std::chrono::steady_clock::now();
  comm_.allreduce_sum(sum, n, deterministic_);
  const double exchange =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  float* const summed[] = {sum};
  in_process_.reduce_update(pool, workers, summed, n, update, worker_busy);
  return exchange;
}

void RankReducer::sum_scalars(std::span<double> values) {
  comm_.allreduce_sum(values.data(), values.size());
}

}  // namespace dptrain
