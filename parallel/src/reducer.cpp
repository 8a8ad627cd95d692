#include "dptrain/parallel/reducer.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#include "dptrain/parallel/partition.hpp"
#include "dptrain/parallel/reduce.hpp"
#include "dptrain/parallel/timer.hpp"

namespace dptrain::parallel {

namespace {
constexpr std::size_t kLineFloats = 64 / sizeof(float);
}  // namespace

InProcessReducer::InProcessReducer(std::size_t max_workers)
    : max_workers_(max_workers),
      scratch_(static_cast<float*>(
          std::aligned_alloc(64, std::max<std::size_t>(1, max_workers) * kChunk * sizeof(float)))) {
  if (!scratch_) throw std::bad_alloc();
}

InProcessReducer::~InProcessReducer() {
  std::free(scratch_);
}

std::size_t InProcessReducer::bytes() const {
  return max_workers_ * kChunk * sizeof(float);
}

void InProcessReducer::reduce_slice(std::size_t w, std::size_t workers,
                                    std::span<float* const> sources, std::size_t n,
                                    SliceUpdate update) {
  const Range slice = partition_aligned(n, workers, w, kLineFloats);
  float* sum = scratch_ + w * kChunk;
  for (std::size_t b = slice.begin; b < slice.end; b += kChunk) {
    const Range chunk{b, std::min(b + kChunk, slice.end)};
    if (sources.size() == 1) {  // one unit: its buffer already is the sum
      update(b, std::span<const float>(sources[0] + b, chunk.size()));
    } else {
      sum_in_order(sum, sources, chunk);
      update(b, std::span<const float>(sum, chunk.size()));
    }
  }
}

double InProcessReducer::reduce_update(WorkerPool& pool, std::size_t workers,
                                       std::span<float* const> sources, std::size_t n,
                                       SliceUpdate update, std::span<double> worker_busy) {
  if (sources.empty() || workers == 0 || workers > max_workers_)
    throw std::invalid_argument("InProcessReducer::reduce_update: needs >= 1 source and 1.." +
                                std::to_string(max_workers_) + " workers");
  pool.run(workers, [&](std::size_t w) {
    ScopedTimer timer(worker_busy.empty() ? nullptr : &worker_busy[w]);
    reduce_slice(w, workers, sources, n, update);
  });
  return 0;
}

}  // namespace dptrain::parallel
