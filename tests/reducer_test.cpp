// parallel::InProcessReducer: the fused reduce-scatter + update sums the sources in source order
// and hands every element to the update exactly once, whatever the worker count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "dptrain/parallel/pool.hpp"
#include "dptrain/parallel/reducer.hpp"

namespace dptrain::parallel {
namespace {

std::vector<std::vector<float>> sources_of(std::size_t count, std::size_t n) {
  std::vector<std::vector<float>> s(count, std::vector<float>(n));
  std::uint32_t state = 12345;
  for (auto& v : s)
    for (float& x : v) {
      state = state * 1664525u + 1013904223u;
      x = float(state >> 8) / float(1 << 24) - 0.5f;
    }
  return s;
}

/// Runs a reduce whose update writes sum into `out` and counts visits per element.
std::vector<float> reduce(InProcessReducer& reducer, WorkerPool& pool, std::size_t workers,
                          const std::vector<float*>& ptrs, std::size_t n,
                          std::vector<std::atomic<int>>& visits) {
  std::vector<float> out(n, -1.0f);
  reducer.reduce_update(pool, workers, ptrs, n,
                        [&](std::size_t begin, std::span<const float> grad) {
                          for (std::size_t j = 0; j < grad.size(); ++j) {
                            out[begin + j] = grad[j];
                            visits[begin + j].fetch_add(1, std::memory_order_relaxed);
                          }
                        },
                        {});
  return out;
}

TEST(Reducer, SumsInSourceOrderOnceForAnyWorkerCount) {
  // Large enough for several L1 chunks per slice, odd so the last slice is partial.
  const std::size_t n = 3 * InProcessReducer::kChunk + 17;
  for (std::size_t count : {1u, 2u, 5u}) {
    auto sources = sources_of(count, n);
    std::vector<float*> ptrs;
    for (auto& s : sources) ptrs.push_back(s.data());
    std::vector<float> expected(n);
    for (std::size_t i = 0; i < n; ++i) {
      float sum = sources[0][i];
      for (std::size_t k = 1; k < count; ++k) sum += sources[k][i];
      expected[i] = sum;
    }
    WorkerPool pool(Backend::threads, 4);
    InProcessReducer reducer(4);
    for (std::size_t workers = 1; workers <= 4; ++workers) {
      std::vector<std::atomic<int>> visits(n);
      const std::vector<float> got = reduce(reducer, pool, workers, ptrs, n, visits);
      ASSERT_EQ(got, expected) << count << " sources, " << workers << " workers";
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(visits[i].load(), 1) << i;
    }
  }
}

TEST(Reducer, ReportsBusyTimePerWorkerAndRejectsBadCalls) {
  WorkerPool pool(Backend::threads, 2);
  InProcessReducer reducer(2);
  std::vector<float> a(1000, 1.0f), b(1000, 2.0f);
  std::vector<float*> ptrs = {a.data(), b.data()};
  std::vector<double> busy(2, 0.0);
  const double exchange = reducer.reduce_update(
      pool, 2, ptrs, a.size(), [](std::size_t, std::span<const float>) {}, busy);
  EXPECT_EQ(exchange, 0.0);  // nothing to exchange in one process
  EXPECT_GE(busy[0], 0.0);
  EXPECT_GE(busy[1], 0.0);
  auto none = [](std::size_t, std::span<const float>) {};
  EXPECT_THROW(reducer.reduce_update(pool, 2, {}, 10, none, {}), std::invalid_argument);
  EXPECT_THROW(reducer.reduce_update(pool, 3, ptrs, 10, none, {}), std::invalid_argument);
}

}  // namespace
}  // namespace dptrain::parallel
