#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dptrain/parallel/barrier.hpp"
#include "dptrain/parallel/partition.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/parallel/reduce.hpp"

namespace dptrain::parallel {
namespace {

TEST(Partition, CoversRangeExactlyOnceInOrder) {
  for (std::size_t n : {0u, 1u, 7u, 128u, 1000u})
    for (std::size_t nth : {1u, 2u, 3u, 7u, 16u, 2000u}) {
      std::size_t next = 0, smallest = n, largest = 0;
      for (std::size_t i = 0; i < nth; ++i) {
        const Range r = partition(n, nth, i);
        EXPECT_EQ(r.begin, next);
        next = r.end;
        smallest = std::min(smallest, r.size());
        largest = std::max(largest, r.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - std::min(smallest, largest), 1u);
    }
}

TEST(Partition, AlignedBoundariesAreMultiplesOfAlignment) {
  const std::size_t n = 1000, align = 16;
  std::size_t next = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const Range r = partition_aligned(n, 3, i, align);
    EXPECT_EQ(r.begin, next);
    EXPECT_EQ(r.begin % align, 0u);
    next = r.end;
  }
  EXPECT_EQ(next, n);
  EXPECT_EQ(partition_aligned(10, 4, 3, 16).size(), 0u);  // more workers than lines
}

class PoolTest : public ::testing::TestWithParam<Backend> {};

TEST_P(PoolTest, RunsEveryIndexExactlyOncePerRun) {
  for (std::size_t workers : {1u, 2u, 3u, 8u}) {
    WorkerPool pool(GetParam(), workers);
    std::vector<std::atomic<int>> hits(workers);
    for (int round = 0; round < 200; ++round)
      pool.run([&](std::size_t i) { hits[i].fetch_add(1, std::memory_order_relaxed); });
    for (auto& h : hits) EXPECT_EQ(h.load(), 200);
  }
}

TEST_P(PoolTest, WritesOfTasksAreVisibleAfterRun) {
  WorkerPool pool(GetParam(), 4);
  std::vector<long> slots(4 * 16, 0);  // one cache line per worker
  for (long round = 1; round <= 100; ++round) {
    pool.run([&](std::size_t i) { slots[i * 16] += round; });
    long sum = 0;
    for (std::size_t i = 0; i < 4; ++i) sum += slots[i * 16];
    ASSERT_EQ(sum, 4 * round * (round + 1) / 2);
  }
}

TEST_P(PoolTest, RethrowsLowestIndexExceptionOnCaller) {
  WorkerPool pool(GetParam(), 3);
  std::atomic<int> ran{0};
  try {
    pool.run([&](std::size_t i) {
      ran.fetch_add(1);
      if (i >= 1) throw std::runtime_error("worker " + std::to_string(i));
    });
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "worker 1");
  }
  EXPECT_EQ(ran.load(), 3);  // every task ran to its end
  // The pool stays usable.
  std::atomic<int> after{0};
  pool.run([&](std::size_t) { after.fetch_add(1); });
  EXPECT_EQ(after.load(), 3);
}

TEST_P(PoolTest, OversubscribedPoolCompletes) {
  WorkerPool pool(GetParam(), 16);  // more workers than this machine's cores
  std::atomic<int> count{0};
  for (int round = 0; round < 20; ++round) pool.run([&](std::size_t) { count.fetch_add(1); });
  EXPECT_EQ(count.load(), 16 * 20);
}

TEST_P(PoolTest, RunOnNRunsExactlyTheFirstNWorkers) {
  WorkerPool pool(GetParam(), 4);
  for (int round = 0; round < 50; ++round)
    for (std::size_t n = 1; n <= 4; ++n) {
      std::vector<std::atomic<int>> hits(4);
      std::atomic<bool> inline_on_caller{false};
      const auto caller = std::this_thread::get_id();
      pool.run(n, [&](std::size_t i) {
        hits[i].fetch_add(1);
        if (n == 1) inline_on_caller = std::this_thread::get_id() == caller;
      });
      for (std::size_t i = 0; i < 4; ++i) ASSERT_EQ(hits[i].load(), i < n ? 1 : 0) << n;
      if (n == 1) {
        EXPECT_TRUE(inline_on_caller.load());
      }
    }
  EXPECT_THROW(pool.run(0, [](std::size_t) {}), std::invalid_argument);
  EXPECT_THROW(pool.run(5, [](std::size_t) {}), std::invalid_argument);
}

/// The test's name for a backend (dptrain's kBackendNames, engine.hpp, is above this library).
std::string test_name(const ::testing::TestParamInfo<Backend>& info) {
  constexpr const char* names[] = {"tbb", "openmp", "threads"};
  return names[static_cast<int>(info.param)];
}

INSTANTIATE_TEST_SUITE_P(Backends, PoolTest,
                         ::testing::Values(Backend::tbb, Backend::openmp, Backend::threads),
                         test_name);

TEST(Pool, RejectsZeroWorkers) {
  EXPECT_THROW(WorkerPool(Backend::tbb, 0), std::invalid_argument);
}

TEST(Barrier, NoThreadPassesBeforeAllArrive) {
  constexpr int kThreads = 4, kPhases = 500;
  Barrier barrier(kThreads);
  std::atomic<int> arrived{0};
  std::atomic<bool> violated{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int p = 0; p < kPhases; ++p) {
        arrived.fetch_add(1);
        barrier.arrive_and_wait();
        if (arrived.load() < (p + 1) * kThreads) violated = true;
        barrier.arrive_and_wait();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_FALSE(violated.load());
  EXPECT_EQ(arrived.load(), kThreads * kPhases);
}

TEST(SumInOrder, SumsRangeInFixedOrder) {
  std::vector<float> a = {1, 2, 3, 4}, b = {10, 20, 30, 40}, c = {100, 200, 300, 400};
  std::vector<float*> srcs = {a.data(), b.data(), c.data()};
  std::vector<float> chunk(2);
  sum_in_order<float>(chunk.data(), srcs, Range{1, 3});
  EXPECT_EQ(chunk, (std::vector<float>{222, 333}));
  std::vector<float*> one = {b.data()};
  sum_in_order<float>(chunk.data(), one, Range{2, 4});
  EXPECT_EQ(chunk, (std::vector<float>{30, 40}));
  // The order is (s0 + s1) + s2: 1e8 + 1 - 1e8 in float is 0, not 1.
  std::vector<float> x = {1e8f}, y = {1.0f}, z = {-1e8f}, out = {0};
  std::vector<float*> order = {x.data(), y.data(), z.data()};
  sum_in_order<float>(out.data(), order, Range{0, 1});
  EXPECT_EQ(out[0], (1e8f + 1.0f) + -1e8f);
}

}  // namespace
}  // namespace dptrain::parallel
