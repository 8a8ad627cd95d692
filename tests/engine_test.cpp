// The Engine: one step's contracts (preconditions, scaling of partial batches, phase times) and
// the multi-rank path through in-process loopback ranks (Note [Ranks]), without MPI.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "../src/engine/weight_tiles.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

const ModelSpec& spec() {
  static const ModelSpec s = ModelSpec::mlp({8, 32, 16, 2}, Activation::relu, Activation::softmax);
  return s;
}

parallel::Backend test_backend() {  // the TSan job restricts backends (see scripts/test.sh)
  return test::first_test_backend();
}

EngineConfig config(std::size_t threads, std::size_t batch) {
  EngineConfig c;
  c.batch_size = batch;
  c.threads = threads;
  c.backend = test_backend();
  c.optimizer.kind = OptimizerKind::sgd;
  c.optimizer.learning_rate = 0.1;
  c.min_flops_per_worker = 0;  // fork on every step
  return c;
}

std::vector<std::uint32_t> iota_rows(std::size_t begin, std::size_t n) {
  std::vector<std::uint32_t> rows(n);
  std::iota(rows.begin(), rows.end(), std::uint32_t(begin));
  return rows;
}

std::vector<float> params_of(const Model<float>& m) {
  return {m.parameters().begin(), m.parameters().end()};
}

TEST(Engine, PartialLastBatchIsScaledByItsOwnSize) {
  // A step of 3 rows in an engine whose batch is 8 must apply the mean over those 3 rows: the
  // same update, bit for bit, as an engine whose batch is exactly those 3 rows.
  const Dataset d = make_synthetic("blobs8", 1);
  for (std::size_t threads : {1u, 2u}) {
    Model<float> a(spec()), b(spec());
    a.initialize(5), b.initialize(5);
    Engine big(a, config(threads, 8)), exact(b, config(threads, 3));
    const auto rows = iota_rows(10, 3);
    big.step(d, rows, 0.1);
    exact.step(d, rows, 0.1);
    EXPECT_EQ(params_of(a), params_of(b)) << threads << " threads";
    // And it differs from scaling by the full batch (1/8): the update is 8/3 times larger.
    Model<float> c(spec());
    c.initialize(5);
    Engine scaled(c, config(threads, 3));
    scaled.step(d, rows, 0.1 * 3.0 / 8.0);
    EXPECT_NE(params_of(a), params_of(c));
  }
}

TEST(Engine, PreconditionsAreCheckedWithTheirNames) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(spec());
  m.initialize(1);
  Engine e(m, config(2, 4));
  const auto five = iota_rows(0, 5);
  try {
    e.step(d, five, 0.1);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& err) {
    EXPECT_NE(std::string(err.what()).find("rows (5) <= batch_size (4)"), std::string::npos)
        << err.what();
  }
  EXPECT_THROW(e.step(d, {}, 0.1), std::invalid_argument);
  const Dataset wrong = make_synthetic("xor", 1);  // 2 features, not 8
  EXPECT_THROW(e.step(wrong, iota_rows(0, 2), 0.1), std::invalid_argument);
  EXPECT_EQ(e.step_count(), 0u);  // nothing was applied
}

TEST(Engine, PhaseTimesAreNonNegativeAndAddUpToTheStep) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(ModelSpec::mlp({8, 256, 256, 2}, Activation::relu, Activation::softmax));
  m.initialize(1);
  Engine e(m, config(2, 64));
  e.set_timing(true);
  const auto t0 = std::chrono::steady_clock::now();
  constexpr int kSteps = 30;
  for (int s = 0; s < kSteps; ++s) e.step(d, iota_rows(64 * (s % 10), 64), 0.01);
  const double outside =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const PhaseTimes& t = e.times();
  EXPECT_EQ(t.steps, std::uint64_t(kSteps));
  EXPECT_GT(t.forward_backward, 0.0);
  EXPECT_GT(t.reduce_update, 0.0);
  EXPECT_EQ(t.communication, 0.0);
  // Each worker's busy time lies inside the step, so the means do too: waiting >= 0.
  EXPECT_GE(t.waiting(), -1e-9);
  EXPECT_LE(t.wall, outside);
  EXPECT_GE(t.wall, 0.5 * outside);  // the loop outside the steps is a few calls
  e.reset_times();
  EXPECT_EQ(e.times().steps, 0u);
}

/// Trains `steps` steps with `ranks` loopback ranks of `threads` threads each; returns every
/// rank's parameters and the stats of its last step.
struct RankRun {
  std::vector<std::vector<float>> params;
  std::vector<StepStats> last;
};
RankRun train_ranks(std::size_t ranks, std::size_t threads, std::size_t batch, bool deterministic,
                    int steps) {
  const Dataset d = make_synthetic("blobs8", 3);
  auto comms = make_loopback_ranks(ranks);
  RankRun run{std::vector<std::vector<float>>(ranks), std::vector<StepStats>(ranks)};
  std::vector<std::thread> threads_of_ranks;
  for (std::size_t r = 0; r < ranks; ++r)
    threads_of_ranks.emplace_back([&, r] {
      Model<float> m(spec());
      m.initialize(7);
      EngineConfig c = config(threads, batch);
      c.communicator = comms[r].get();
      c.deterministic = deterministic;
      c.micro_batches = 4;
      Engine e(m, c);
      for (int s = 0; s < steps; ++s) run.last[r] = e.step(d, iota_rows(batch * s, batch), 0.1);
      run.params[r] = params_of(m);
    });
  for (auto& t : threads_of_ranks) t.join();
  return run;
}

TEST(Engine, LoopbackRanksAgreeBitwiseAndMatchOneProcess) {
  for (bool deterministic : {false, true})
    for (std::size_t batch : {2u, 24u}) {  // batch 2 over 3 ranks: rank 2 has no rows
      const RankRun run = train_ranks(3, 2, batch, deterministic, 5);
      for (std::size_t r = 1; r < 3; ++r) {
        EXPECT_EQ(run.params[r], run.params[0]) << "rank " << r;
        EXPECT_EQ(run.last[r].loss_sum, run.last[0].loss_sum);  // every rank sees the whole batch
      }
      // The same mathematics as one process, up to the order of the sums.
      const RankRun one = train_ranks(1, 1, batch, deterministic, 5);
      for (std::size_t i = 0; i < one.params[0].size(); ++i)
        ASSERT_NEAR(run.params[0][i], one.params[0][i], 1e-5f) << i;
      EXPECT_NEAR(run.last[0].loss_sum, one.last[0].loss_sum, 1e-4);
      // Repeatable run to run.
      EXPECT_EQ(train_ranks(3, 2, batch, deterministic, 5).params[0], run.params[0]);
    }
}

TEST(Engine, DeterministicRanksGiveTheSameBitsForAnyThreadsPerRank) {
  const auto reference = train_ranks(2, 1, 24, true, 4).params[0];
  for (std::size_t threads : {2u, 3u})
    EXPECT_EQ(train_ranks(2, threads, 24, true, 4).params[0], reference) << threads;
}

TEST(Engine, LoopbackAgreementCheckNamesTheDifferingRank) {
  auto comms = make_loopback_ranks(3);
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < 3; ++r)
    threads.emplace_back([&, r] {
      try {
        comms[r]->check_agreement(r == 2 ? 99 : 1, "the data");
      } catch (const Error& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (const std::string& e : errors)
    EXPECT_EQ(e, "ranks disagree on the data: rank(s) 2 differ from rank 0");
}

EngineConfig with_buffers(EngineConfig c) {
  c.plan.weight_gradients = WeightGradients::buffers;
  return c;
}

TEST(Engine, MemoryReportCountsWhatItAllocated) {
  Model<float> m(spec());
  m.initialize(1);
  Engine one(m, with_buffers(config(1, 64))), two(m, with_buffers(config(2, 64)));
  const EngineMemory a = one.memory(), b = two.memory();
  EXPECT_EQ(a.gradient_buffers, one.gradient_buffer_bytes());
  EXPECT_EQ(b.gradient_buffers, 2 * two.gradient_buffer_bytes());
  // Note [One activation layout]: one store of the batch's activations, whatever the workers.
  const std::size_t batch_activations = a.workspaces - one.workspace_bytes(0);
  EXPECT_GT(batch_activations, 0u);
  EXPECT_EQ(b.workspaces, batch_activations + two.workspace_bytes(0) + two.workspace_bytes(1));
  EXPECT_GT(b.total(), a.total());
  EXPECT_GT(b.per_extra_worker, 0u);
}

TEST(Engine, OwnerComputedGradientsNeedNoBufferPerWorker) {
  // Note [Owner computes]: one more worker adds its small workspace and one tile of scratch,
  // not a copy of the parameters.
  Model<float> m(ModelSpec::mlp({784, 1024, 1024, 10}, Activation::relu, Activation::softmax));
  m.initialize(1);
  Engine owner(m, config(2, 64)), buffers(m, with_buffers(config(2, 64)));
  ASSERT_EQ(owner.weight_gradients(), WeightGradients::owner);
  ASSERT_EQ(buffers.weight_gradients(), WeightGradients::buffers);
  EXPECT_EQ(owner.gradient_buffer_bytes(), 0u);
  EXPECT_LT(owner.memory().per_extra_worker, m.parameter_count() * sizeof(float) / 4);
  EXPECT_GT(buffers.memory().per_extra_worker, m.parameter_count() * sizeof(float));
}

TEST(Engine, OwnerAndBufferGradientsTrainTheSameModel) {
  // Same mathematics, other summation order: close, not bitwise. Several steps with Adam,
  // dropout and a partial batch, for 1, 2 and 3 workers.
  const Dataset d = make_synthetic("blobs8", 1);
  const ModelSpec s = ModelSpec::mlp({8, 64, 48, 2}, Activation::tanh, Activation::softmax, 0.2);
  for (std::size_t threads : {1u, 2u, 3u}) {
    Model<float> a(s), b(s);
    a.initialize(3), b.initialize(3);
    EngineConfig c = config(threads, 40);
    c.optimizer.kind = OptimizerKind::adam;
    c.optimizer.learning_rate = 0.01;
    Engine owner(a, c), buffers(b, with_buffers(c));
    for (std::size_t step = 0; step < 5; ++step) {
      const auto rows = iota_rows(step * 40, step == 4 ? 17 : 40);
      const StepStats x = owner.step(d, rows, 0.01), y = buffers.step(d, rows, 0.01);
      EXPECT_NEAR(x.loss_sum, y.loss_sum, 1e-4 * std::abs(y.loss_sum)) << threads << " " << step;
    }
    const auto pa = params_of(a), pb = params_of(b);
    for (std::size_t i = 0; i < pa.size(); ++i)
      ASSERT_NEAR(pa[i], pb[i], 1e-5f + 1e-4f * std::abs(pb[i])) << "parameter " << i;
  }
}

/// Every weight row of every layer, owned by exactly one worker (count per row).
std::vector<std::vector<int>> ownership(const std::vector<std::size_t>& widths, std::size_t workers,
                                        bool deterministic) {
  std::vector<std::vector<int>> owned;
  for (std::size_t k = 0; k + 1 < widths.size(); ++k) owned.emplace_back(widths[k], 0);
  for (std::size_t w = 0; w < workers; ++w)
    for (const WeightTile& t : owned_weight_tiles(widths, w, workers, deterministic)) {
      EXPECT_LT(t.begin, t.end);
      EXPECT_LE((t.end - t.begin) * widths[t.layer + 1],
                std::max(kTileValues, 16 * widths[t.layer + 1]));
      for (std::size_t r = t.begin; r < t.end; ++r) ++owned[t.layer][r];
    }
  return owned;
}

TEST(Engine, WeightTilesCoverEveryRowOnceAndBalanceTheCost) {
  // Note [Owner computes]: A, B, and a model with a layer narrower than one row block.
  for (const std::vector<std::size_t>& widths :
       {std::vector<std::size_t>{784, 128, 10}, {784, 1024, 1024, 10}, {2, 3, 1}}) {
    double total = 0;
    for (std::size_t k = 0; k + 1 < widths.size(); ++k) total += double(widths[k] * widths[k + 1]);
    for (std::size_t workers : {1u, 2u, 3u, 4u, 7u, 16u})
      for (bool deterministic : {false, true}) {
        for (const auto& layer : ownership(widths, workers, deterministic))
          for (int n : layer) ASSERT_EQ(n, 1) << workers << " workers";
        if (deterministic || widths[0] < 16) continue;
        // Balanced: each share within 16 rows of the widest layer of total / workers.
        const double slack = 16.0 * double(*std::max_element(widths.begin() + 1, widths.end()));
        for (std::size_t w = 0; w < workers; ++w) {
          double cost = 0;
          for (const WeightTile& t : owned_weight_tiles(widths, w, workers, false))
            cost += double(t.end - t.begin) * double(widths[t.layer + 1]);
          EXPECT_NEAR(cost, total / double(workers), slack) << "worker " << w << " of " << workers;
        }
      }
  }
  EXPECT_THROW(owned_weight_tiles(std::vector<std::size_t>{4, 2}, 2, 2, false),
               std::invalid_argument);
}

TEST(Engine, DeterministicWeightTilesAreTheOneWorkerTilesDealtOut) {
  // The products (and so the bits) must not depend on the thread count.
  const std::vector<std::size_t> widths{784, 1024, 1024, 10};
  const auto one = owned_weight_tiles(widths, 0, 1, true);
  for (std::size_t workers : {2u, 3u, 7u}) {
    std::vector<WeightTile> dealt;
    for (std::size_t w = 0; w < workers; ++w)
      for (const WeightTile& t : owned_weight_tiles(widths, w, workers, true)) dealt.push_back(t);
    std::sort(dealt.begin(), dealt.end(), [](const WeightTile& a, const WeightTile& b) {
      return std::tie(a.layer, a.begin) < std::tie(b.layer, b.begin);
    });
    ASSERT_EQ(dealt.size(), one.size());
    for (std::size_t i = 0; i < one.size(); ++i)
      EXPECT_TRUE(dealt[i].layer == one[i].layer && dealt[i].begin == one[i].begin &&
                  dealt[i].end == one[i].end);
  }
}

TEST(Engine, OwnerNeedsFp32DataAndOneProcess) {
  Model<float> m(spec());
  EngineConfig c = config(2, 8);
  c.plan.weight_gradients = WeightGradients::owner;
  c.plan.parallelism = Parallelism::intra;
  EXPECT_THROW(Engine(m, c), Error);
  c.plan.weight_gradients = WeightGradients::automatic;
  EXPECT_EQ(Engine(m, c).weight_gradients(), WeightGradients::buffers);
  c.plan.parallelism = Parallelism::data;
  EXPECT_EQ(Engine(m, c).weight_gradients(), WeightGradients::owner);
  EXPECT_EQ(parse_weight_gradients("owner"), WeightGradients::owner);
  EXPECT_THROW(parse_weight_gradients("tiles"), Error);
}

}  // namespace
}  // namespace dptrain
