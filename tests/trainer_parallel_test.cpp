// The data-parallel engine: N threads compute the same mathematics as one, bit for bit for a
// given N, and with deterministic mode bit for bit for every N.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>

#include "test_util.hpp"

namespace dptrain {
namespace {

const ModelSpec& test_spec() {
  static const ModelSpec spec =
      ModelSpec::mlp({8, 32, 16, 2}, Activation::relu, Activation::softmax);
  return spec;
}

parallel::Backend default_test_backend() {
  return test::first_test_backend();
}

TrainConfig parallel_config(std::size_t threads,
                            parallel::Backend backend = default_test_backend()) {
  TrainConfig c;
  c.loss = Loss::ce;
  c.batch_size = 64;
  c.threads = threads;
  c.backend = backend;
  c.min_flops_per_worker = 0;  // fork on every step, however small
  return c;
}

std::vector<float> after_one_step(TrainConfig c, const Dataset& d) {
  Model<float> m(test_spec());
  m.initialize(11);
  Trainer t(m, c);
  std::vector<std::uint32_t> rows(c.batch_size);
  std::iota(rows.begin(), rows.end(), 0u);
  t.step(d, rows);
  return {m.parameters().begin(), m.parameters().end()};
}

TEST(DataParallel, OneStepEqualsSingleThreadUpToRounding) {
  const Dataset d = make_synthetic("blobs8", 1);
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::momentum, OptimizerKind::nesterov,
                             OptimizerKind::adagrad, OptimizerKind::rmsprop, OptimizerKind::adam,
                             OptimizerKind::adamw}) {
    TrainConfig one = parallel_config(1);
    one.optimizer.kind = kind;
    one.optimizer.learning_rate = 0.01;
    const auto reference = after_one_step(one, d);
    for (std::size_t n : {2u, 3u, 5u}) {
      TrainConfig many = one;
      many.threads = n;
      const auto got = after_one_step(many, d);
      double worst = 0;
      for (std::size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(double(got[i]) - reference[i]) /
                                    std::max(1e-3, std::abs(double(reference[i]))));
      EXPECT_LT(worst, 1e-5) << optimizer_name(kind) << " threads " << n;
    }
  }
}

TEST(DataParallel, LossCurveOverAnEpochMatchesSingleThread) {
  const Dataset d = make_synthetic("blobs8", 1);
  auto curve = [&](std::size_t threads) {
    Model<float> m(test_spec());
    m.initialize(3);
    TrainConfig c = parallel_config(threads);
    c.batch_size = 32;
    Trainer t(m, c);
    std::vector<double> losses;
    for (int e = 0; e < 3; ++e) losses.push_back(t.train_epoch(d).train_loss);
    return losses;
  };
  const auto one = curve(1), four = curve(4);
  for (std::size_t e = 0; e < one.size(); ++e) EXPECT_NEAR(one[e], four[e], 1e-4) << e;
}

class DeterministicTest : public ::testing::TestWithParam<parallel::Backend> {};

TEST_P(DeterministicTest, BitwiseIdenticalForEveryThreadCount) {
  const Dataset d = make_synthetic("blobs8", 2);
  auto run = [&](std::size_t threads) {
    Model<float> m(ModelSpec::mlp({8, 24, 2}, Activation::tanh, Activation::softmax, 0.25));
    m.initialize(5);
    TrainConfig c = parallel_config(threads, GetParam());
    c.deterministic = true;
    c.batch_size = 50;  // not a multiple of the 16 micro-batches, with a partial last batch
    Trainer t(m, c);
    for (int e = 0; e < 2; ++e) t.train_epoch(d);
    return params_hash<float>(m.parameters());
  };
  const std::uint64_t reference = run(1);
  for (std::size_t n : {2u, 3u, 4u, 7u, 16u}) EXPECT_EQ(run(n), reference) << "threads " << n;
}

INSTANTIATE_TEST_SUITE_P(Backends, DeterministicTest,
                         ::testing::Values(parallel::Backend::tbb, parallel::Backend::openmp,
                                           parallel::Backend::threads),
                         [](const auto& info) { return std::string(backend_name(info.param)); });

TEST(DataParallel, SameThreadCountSameBitsEveryRun) {
  const Dataset d = make_synthetic("blobs8", 1);
  TrainConfig c = parallel_config(3);
  const auto a = after_one_step(c, d), b = after_one_step(c, d);
  EXPECT_EQ(a, b);
}

TEST(DataParallel, BatchSmallerThanThreadCount) {
  const Dataset d = make_synthetic("blobs8", 1);
  TrainConfig one = parallel_config(1);
  one.batch_size = 3;
  TrainConfig many = one;
  many.threads = 8;  // five workers get no rows
  const auto a = after_one_step(one, d), b = after_one_step(many, d);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6f);
}

TEST(DataParallel, TinyStepsDoNotFork) {
  Model<float> m(ModelSpec::mlp({8, 10, 8, 1}, Activation::relu, Activation::sigmoid));
  TrainConfig c;
  c.loss = Loss::bce;
  c.threads = 2;
  c.backend = default_test_backend();  // not tbb under ThreadSanitizer (scripts/test.sh)
  Trainer t(m, c);
  EXPECT_EQ(t.workers_for(32), 1u);  // ~30 kFLOP: forking would cost more than it saves
  Model<float> big(ModelSpec::mlp({784, 128, 10}, Activation::relu, Activation::softmax));
  c.loss = Loss::ce;
  Trainer tb(big, c);
  EXPECT_EQ(tb.workers_for(128), 2u);
}

TEST(DataParallel, WarnsWhenOversubscribed) {
  Model<float> m(test_spec());
  TrainConfig c = parallel_config(parallel::hardware_threads() + 1);
  std::string warning;
  c.on_warning = [&](const std::string& w) { warning = w; };
  Trainer t(m, c);
  EXPECT_NE(warning.find("oversubscribed"), std::string::npos);
}

TEST(IntraOp, TrainsLikeDataParallel) {
  const Dataset d = make_synthetic("blobs8", 1);
  TrainConfig one = parallel_config(1);
  TrainConfig intra = one;
  intra.threads = 2;
  intra.plan.parallelism = Parallelism::intra;
  const auto a = after_one_step(one, d), b = after_one_step(intra, d);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f);
}

}  // namespace
}  // namespace dptrain
