// parallel::partition_rows: which rows of a global batch each unit computes (Note [Ranks]).
#include <gtest/gtest.h>

#include <vector>

#include "dptrain/parallel/row_partition.hpp"

namespace dptrain::parallel {
namespace {

/// Every global row, over all ranks and units, is computed exactly once.
void expect_covers_once(std::size_t batch, std::size_t ranks, std::size_t micro,
                        std::size_t workers) {
  std::vector<int> seen(batch, 0);
  for (std::size_t r = 0; r < ranks; ++r) {
    const RowPartition p =
        partition_rows(batch, ranks, r, micro, [&](std::size_t) { return workers; });
    ASSERT_GE(p.workers, 1u);
    std::size_t units_run = 0;
    for (std::size_t w = 0; w < p.workers; ++w) units_run += p.worker_units(w).size();
    ASSERT_EQ(units_run, p.units);
    for (std::size_t u = 0; u < p.units; ++u) {
      const Range rows = p.unit_rows(u);
      for (std::size_t i = rows.begin; i < rows.end; ++i) {
        ASSERT_GE(i, p.local.begin);
        ASSERT_LT(i, p.local.end);
        ++seen[i];
      }
    }
  }
  for (std::size_t i = 0; i < batch; ++i) ASSERT_EQ(seen[i], 1) << "row " << i;
}

TEST(RowPartition, EveryRowOnceForAnyRanksWorkersAndMicroBatches) {
  for (std::size_t batch : {1u, 2u, 7u, 64u, 100u})
    for (std::size_t ranks : {1u, 2u, 3u, 8u})
      for (std::size_t micro : {0u, 1u, 4u, 16u})
        for (std::size_t workers : {1u, 2u, 5u}) expect_covers_once(batch, ranks, micro, workers);
}

TEST(RowPartition, MicroBatchesDoNotDependOnWorkers) {
  for (std::size_t workers : {1u, 2u, 3u, 7u, 16u}) {
    const RowPartition p = partition_rows(100, 1, 0, 16, [&](std::size_t) { return workers; });
    EXPECT_EQ(p.units, 16u);
    EXPECT_LE(p.workers, 16u);
    for (std::size_t u = 0; u < 16; ++u) {
      const Range r = p.unit_rows(u), expected = partition(100, 16, u);
      EXPECT_EQ(r.begin, expected.begin);
      EXPECT_EQ(r.end, expected.end);
    }
  }
}

TEST(RowPartition, RanksWithoutRowsGetEmptyUnits) {
  // 2 rows over 3 ranks: rank 2 has none, and still plans one (empty) unit on one worker.
  const RowPartition p = partition_rows(2, 3, 2, 0, [](std::size_t) { return 4; });
  EXPECT_TRUE(p.local.empty());
  EXPECT_EQ(p.workers, 1u);
  for (std::size_t u = 0; u < p.units; ++u) EXPECT_TRUE(p.unit_rows(u).empty());
  const RowPartition m =
      partition_rows(2, 3, 2, 2, [](std::size_t) { return 4; });  // 2 micro-batches
  EXPECT_EQ(m.units, 0u);
  EXPECT_EQ(m.workers, 1u);
}

}  // namespace
}  // namespace dptrain::parallel
