// The cost model (include/dptrain/tuning.hpp, Note [The cost model]): its arithmetic on
// hand-computed cases.
#include "dptrain/tuning.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "dptrain/error.hpp"
#include "dptrain/gemm.hpp"

namespace dptrain::tuning {
namespace {

// One layer 64 -> 4096, batch 4: its weight gradient costs as much as 4 rows' forward products.
// Every rate 1 GFLOP/s = 1000 flops per us: one row's forward product (2 x 64 x 4096 flops)
// takes 524.288 us, and so do 16 weight rows' gradient (2 x 4 x 16 x 4096 flops).
Calibration hand_calibration(double copy_gbs, double tile_gflops = 1) {
  Calibration c;
  c.batch = 4;
  LayerCalibration l;
  l.in = 64;
  l.out = 4096;
  l.forward = {{4, 1.0}, {2, 1.0}, {1, 1.0}};
  l.tile_gflops = tile_gflops;
  c.layers = {l};
  c.optimizer_states = 0;  // plain SGD
  c.copy_gbs_one = c.copy_gbs_all = copy_gbs;
  c.copy_threads = 2;
  c.fork_join_us = {5, 5};
  return c;
}

constexpr double kRowUs = 524.288;
constexpr double kParams = 65.0 * 4096;  // weights and biases

TEST(CostModel, TileRowsFollowTheEngine) {
  EXPECT_EQ(tile_rows(784, 128), 784u);    // up to 2048 rows (262144 / 128): one tile
  EXPECT_EQ(tile_rows(1024, 1024), 256u);  // B's middle layer: 4 tiles of 256 rows
  EXPECT_EQ(tile_rows(784, 1024), 192u);   // 784 rows in 4 nearly equal tiles (196 -> 192)
  EXPECT_EQ(tile_rows(64, 100000), 16u);   // at least 16 rows
}

TEST(CostModel, SplitsProductsByGemmsOwnRule) {
  // gemm_split_parts (gemm.hpp): one part per full MFLOP, 1 to the threads.
  EXPECT_EQ(gemm_split_parts(0.5e6, 4), 1u);
  EXPECT_EQ(gemm_split_parts(2.5e6, 4), 2u);
  EXPECT_EQ(gemm_split_parts(1e9, 4), 4u);
  EXPECT_EQ(gemm_split_parts(1e9, 0), 1u);
  for (double flops : {1e5, 1.99e6, 3e6, 7.5e6, 1e8})
    for (std::size_t threads : {1u, 2u, 3u, 8u})
      EXPECT_EQ(split_parts(flops, threads), double(gemm_split_parts(flops, threads)));
}

TEST(CostModel, RateInterpolatesInLogRowsAndHoldsOutside) {
  const std::vector<RatePoint> curve = {{4, 30}, {1, 10}};
  EXPECT_DOUBLE_EQ(rate_at(curve, 2), 20);  // log 2 is halfway between log 1 and log 4
  EXPECT_DOUBLE_EQ(rate_at(curve, 1), 10);
  EXPECT_DOUBLE_EQ(rate_at(curve, 64), 30);
  EXPECT_THROW(rate_at({}, 4), Error);
}

TEST(CostModel, ComputeHalvesWithTwoWorkersAndSyncStaysFixed) {
  const Calibration c = hand_calibration(10);
  const Assumptions a;
  const StepPrediction one = predict(c, a, PlanKind::owner, 1);
  const StepPrediction two = predict(c, a, PlanKind::owner, 2);
  // Phase 1: 4 rows (the first layer has no input gradient); phase 2: 4 rows' worth.
  EXPECT_NEAR(one.compute_us, 8 * kRowUs, 1e-9);
  EXPECT_NEAR(two.compute_us, 4 * kRowUs, 1e-9);
  EXPECT_DOUBLE_EQ(one.sync_us, 10);  // 2 fork/joins of 5 us
  EXPECT_DOUBLE_EQ(two.sync_us, 10);
  // Exchange: B (in + out) 4 bytes at 10 GB/s; update: parameters read and written.
  EXPECT_NEAR(one.exchange_us, 4.0 * (64 + 4096) * 4 / 1e4, 1e-9);
  EXPECT_NEAR(one.update_us, kParams * 4 * 2 / 1e4, 1e-9);
  EXPECT_NEAR(one.total_us(), one.compute_us + one.exchange_us + one.update_us + 10, 1e-9);
  EXPECT_NEAR(one.samples_per_s(4), 4e6 / one.total_us(), 1e-6);
}

TEST(CostModel, ContentionSlowsEveryProductOnceSeveralWorkersRun) {
  Calibration c = hand_calibration(10);
  const Assumptions a;
  const StepPrediction alone = predict(c, a, PlanKind::owner, 2);
  c.layers[0].contended = 0.5;  // each core at half its rate alone while both compute
  EXPECT_NEAR(predict(c, a, PlanKind::owner, 2).compute_us, 2 * alone.compute_us, 1e-9);
  EXPECT_NEAR(predict(c, a, PlanKind::owner, 1).compute_us, 8 * kRowUs, 1e-9);  // one worker
  EXPECT_GT(predict(c, a, PlanKind::intra, 2).compute_us,
            1.9 * predict(hand_calibration(10), a, PlanKind::intra, 2).compute_us);
}

TEST(CostModel, BandwidthIsMeasuredThenCappedBeyondTheMeasuredCores) {
  Calibration c = hand_calibration(10);
  c.copy_gbs_all = 16;  // two threads at once
  Assumptions a;
  a.mem_bandwidth_gbs = 20;
  EXPECT_DOUBLE_EQ(bandwidth_gbs(c, a, 1), 10);
  EXPECT_DOUBLE_EQ(bandwidth_gbs(c, a, 2), 16);
  EXPECT_DOUBLE_EQ(bandwidth_gbs(c, a, 64), 20);  // 8 GB/s per core, capped
  a.mem_bandwidth_gbs = 100;
  EXPECT_DOUBLE_EQ(bandwidth_gbs(c, a, 4), 32);  // 8 GB/s per core, under the cap
  // The cap reaches the exchange: B (in + out) 4 bytes at 20 GB/s beyond the measured cores.
  a.mem_bandwidth_gbs = 20;
  EXPECT_NEAR(predict(c, a, PlanKind::owner, 64).exchange_us, 4.0 * 4160 * 4 / 2e4, 1e-9);
}

TEST(CostModel, ForkJoinIsExtrapolatedOrAssumed) {
  Calibration c = hand_calibration(10);
  c.fork_join_us = {1, 3};
  Assumptions a;
  EXPECT_DOUBLE_EQ(fork_join_us(c, a, 2), 3);
  EXPECT_DOUBLE_EQ(fork_join_us(c, a, 5), 9);  // 2 us more per worker
  a.sync_latency_us = 7;
  EXPECT_DOUBLE_EQ(fork_join_us(c, a, 5), 7);
  EXPECT_DOUBLE_EQ(fork_join_us(c, a, 2), 3);  // measured counts stay measured
}

TEST(CostModel, BuffersWinAloneAndLoseToOwnerOnceTheirReduceCosts) {
  // Slow tiles (0.5 GFLOP/s) and 1 GB/s: owner pays 4 tiles of 1048.576 us, buffers pay the
  // weight-gradient product in phase 1 and, from 2 workers, W P 4 2 bytes of reduce.
  const Calibration c = hand_calibration(1, 0.5);
  Assumptions a;
  a.mem_bandwidth_gbs = 1;
  const double exchange_owner = 4.0 * 4160 * 4 / 1e3;
  const StepPrediction o1 = predict(c, a, PlanKind::owner, 1);
  const StepPrediction b1 = predict(c, a, PlanKind::buffers, 1);
  EXPECT_NEAR(o1.compute_us, 4 * kRowUs + 8 * kRowUs, 1e-9);
  EXPECT_NEAR(b1.compute_us, 8 * kRowUs, 1e-9);
  EXPECT_DOUBLE_EQ(b1.exchange_us, 0);
  EXPECT_LT(b1.total_us(), o1.total_us());
  const StepPrediction o2 = predict(c, a, PlanKind::owner, 2);
  const StepPrediction b2 = predict(c, a, PlanKind::buffers, 2);
  EXPECT_NEAR(o2.exchange_us, exchange_owner, 1e-9);
  EXPECT_NEAR(b2.exchange_us, 2 * kParams * 8 / 1e3, 1e-9);
  EXPECT_LT(o2.total_us(), b2.total_us());
}

TEST(CostModel, IntraSplitsTheFullBatchProducts) {
  const Calibration c = hand_calibration(10);
  const Assumptions a;
  const StepPrediction i2 = predict(c, a, PlanKind::intra, 2);
  // Forward and weight-gradient products of 4 rows (no input gradient), over 2 workers.
  EXPECT_NEAR(i2.compute_us, 2 * 4 * kRowUs / 2, 1e-9);
  EXPECT_DOUBLE_EQ(i2.exchange_us, 0);
  EXPECT_DOUBLE_EQ(i2.sync_us, 2 * 5);  // one fork/join per product
  // gemm's rule: at least 1 MFLOP per part, so the 2.1 MFLOP products use 2 of 2048 workers.
  EXPECT_NEAR(predict(c, a, PlanKind::intra, 2048).compute_us, 2 * 4 * kRowUs / 2, 1e-9);
  // Split 4096 columns in 2: 2048 each, costed at the rate of min(2048, B = 4) rows; at half
  // that rate (2 rows' rate here), twice the time.
  Calibration slow_small = c;
  slow_small.layers[0].forward = {{4, 0.5}, {2, 0.5}, {1, 0.25}};
  EXPECT_NEAR(predict(slow_small, a, PlanKind::intra, 2).compute_us, 2 * 4 * kRowUs / (2 * 0.5),
              1e-9);
  // The measured split fraction (LayerCalibration::split) scales every split product.
  Calibration measured = c;
  measured.layers[0].split = 0.5;
  EXPECT_NEAR(predict(measured, a, PlanKind::intra, 2).compute_us, 2 * i2.compute_us, 1e-9);
  EXPECT_NEAR(predict(measured, a, PlanKind::owner, 2, 2).compute_us,
              2 * predict(c, a, PlanKind::owner, 2, 2).compute_us, 1e-9);
}

TEST(CostModel, GroupsSplitEachProductOverTheirThreads) {
  // Batch 8 on 4 cores. Rows are slow below 4 (0.25 GFLOP/s), full speed from 4.
  Calibration c = hand_calibration(10);
  c.batch = 8;
  c.layers[0].forward = {{8, 1.0}, {4, 1.0}, {2, 0.25}, {1, 0.25}};
  const Assumptions a;
  // data/owner: 2 rows per worker at 0.25 (8 row-products' time), then 16 weight rows each
  // (2 x 8 x 16 x 4096 flops = 2 row-products at 1 GFLOP/s).
  const StepPrediction data = predict(c, a, PlanKind::owner, 4);
  EXPECT_NEAR(data.compute_us, 8 * kRowUs + 2 * kRowUs, 1e-6);
  EXPECT_EQ(plan_label(data), "data/owner");
  // 2x2/owner: 4 rows per group, their 2.1 MFLOP product split in 2 (2048 columns each, costed
  // at the 4-row rate); phase 2: 32 weight rows per group (2.1 MFLOP) split in 2.
  const StepPrediction groups = predict(c, a, PlanKind::owner, 4, 2);
  EXPECT_NEAR(groups.compute_us, 2 * kRowUs + 2 * kRowUs, 1e-6);
  EXPECT_DOUBLE_EQ(groups.sync_us, 2 * 5 + 5 + 5);  // 2 fork/joins of the leaders, 2 splits
  EXPECT_EQ(plan_label(groups), "2x2/owner");
  EXPECT_EQ(plan_label(predict(c, a, PlanKind::buffers, 4, 4)), "1x4/buffers");
  EXPECT_LT(groups.total_us(), data.total_us());
  // Products under 1 MFLOP per part are not split (gemm.cpp), so one row per group gains nothing.
  c.batch = 2;
  EXPECT_NEAR(predict(c, a, PlanKind::owner, 2, 2).compute_us,
              predict(c, a, PlanKind::owner, 1).compute_us, 1e-6);
  EXPECT_THROW(predict(c, a, PlanKind::owner, 3, 2), std::invalid_argument);
}

TEST(CostModel, BestPlanIsTheLowestPrediction) {
  const Calibration c = hand_calibration(1, 0.5);
  Assumptions a;
  a.mem_bandwidth_gbs = 1;
  for (std::size_t cores : {1, 2, 3, 4, 64}) {
    const StepPrediction best = best_plan(c, a, cores);
    for (PlanKind k : {PlanKind::owner, PlanKind::buffers, PlanKind::intra})
      EXPECT_LE(best.total_us(), predict(c, a, k, cores).total_us()) << cores << plan_name(k);
    for (std::size_t t = 2; t <= cores; ++t) {
      if (cores % t != 0) continue;
      for (PlanKind k : {PlanKind::owner, PlanKind::buffers}) {
        EXPECT_LE(best.total_us(), predict(c, a, k, cores, t).total_us()) << cores << "x" << t;
      }
    }
  }
  // One core: intra runs the same products as buffers without a pool, so it wins by the data
  // strategy's 2 fork/joins of one worker.
  EXPECT_EQ(best_plan(c, a, 1).plan, PlanKind::intra);
  EXPECT_NEAR(predict(c, a, PlanKind::buffers, 1).total_us() - best_plan(c, a, 1).total_us(), 10,
              1e-9);
}

}  // namespace
}  // namespace dptrain::tuning
