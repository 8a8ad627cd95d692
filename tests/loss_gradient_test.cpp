// Engine::loss_gradient (Note [Full-batch gradient] in engine.hpp): against central differences
// of the float64 objective, against the sgd step it replaces, and its refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace dptrain {
namespace {

EngineConfig config(std::size_t threads, std::size_t batch, WeightGradients how, double l2) {
  EngineConfig c;
  c.batch_size = batch;
  c.threads = threads;
  c.backend = test::first_test_backend();
  c.optimizer.kind = OptimizerKind::sgd;
  c.optimizer.learning_rate = 0.5;
  c.optimizer.l2 = l2;
  c.plan.weight_gradients = how;
  c.min_flops_per_worker = 0;  // every pass on all threads
  return c;
}

/// The rows of test::Float64Gradient as a float Dataset.
Dataset dataset_of(const test::Float64Gradient& f) {
  Dataset d;
  d.source = "random";
  d.rows = f.kRows;
  d.features = 64;
  d.x.assign(f.x.begin(), f.x.end());
  d.classes = 10;
  d.labels = f.labels;
  return d;
}

std::vector<std::uint32_t> all_rows(std::size_t n) {
  std::vector<std::uint32_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0u);
  return rows;
}

TEST(LossGradient, MatchesCentralDifferencesOfTheFloat64Objective) {
  test::Float64Gradient f;
  const double l2 = 0.05;
  Workspace<double> ws(f.spec, f.kRows, GemmBackend::reference);
  const test::LossProbe probe{f.model, ws, f.x, f.kRows, Loss::ce, f.targets(), {}};
  auto params = f.model.parameters();
  auto objective = [&] {
    double squares = 0;
    for (std::size_t i = 0; i < f.model.weight_count(); ++i) squares += params[i] * params[i];
    return probe.value() + 0.5 * l2 * squares;
  };
  std::vector<double> numeric(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const double saved = params[i], h = 1e-6;
    params[i] = saved + h;
    const double up = objective();
    params[i] = saved - h;
    const double down = objective();
    params[i] = saved;
    numeric[i] = (up - down) / (2 * h);
  }
  const Dataset data = dataset_of(f);
  const auto rows = all_rows(f.kRows);
  // Three passes (16 + 16 + 8 rows), both weight-gradient strategies, one and three threads.
  for (WeightGradients how : {WeightGradients::owner, WeightGradients::buffers})
    for (std::size_t threads : {1u, 3u}) {
      Model<float> model = f.float_model();
      Engine engine(model, config(threads, 16, how, l2));
      std::vector<float> g(model.parameter_count());
      const std::vector<float> before(model.parameters().begin(), model.parameters().end());
      const LossGradient r = engine.loss_gradient(data, rows, g);
      double worst = 0;
      for (std::size_t i = 0; i < g.size(); ++i)
        worst = std::max(worst, std::abs(g[i] - numeric[i]) /
                                    std::max(1e-2, std::abs(double(g[i])) + std::abs(numeric[i])));
      EXPECT_LT(worst, 1e-4) << weight_gradients_name(how) << ", " << threads << " threads";
      EXPECT_NEAR(r.loss, objective(), 1e-5);
      EXPECT_NEAR(r.loss - r.data_loss, objective() - probe.value(), 1e-6);
      // Nothing moved: no update, no step.
      EXPECT_TRUE(std::equal(before.begin(), before.end(), model.parameters().begin()));
      EXPECT_EQ(engine.step_count(), 0u);
    }
}

TEST(LossGradient, IsTheGradientThatAnSgdStepApplies) {
  // One pass over B rows: an sgd step at rate lr moves w to w - lr g with the same g, bit for
  // bit, for either weight-gradient strategy.
  const Dataset d = make_synthetic("blobs8", 1);
  const ModelSpec spec = ModelSpec::mlp({8, 32, 16, 2}, Activation::relu, Activation::softmax);
  const auto rows = all_rows(24);
  for (WeightGradients how : {WeightGradients::owner, WeightGradients::buffers})
    for (std::size_t threads : {1u, 2u}) {
      Model<float> a(spec), b(spec);
      a.initialize(5), b.initialize(5);
      Engine full(a, config(threads, 24, how, 0)), stepper(b, config(threads, 24, how, 0));
      std::vector<float> g(a.parameter_count());
      const LossGradient r = full.loss_gradient(d, rows, g);
      const StepStats s = stepper.step(d, rows, 0.5);
      EXPECT_EQ(r.data_loss, s.loss_sum / 24.0);
      EXPECT_EQ(r.metric_sum, s.metric_sum);
      std::vector<float> expected(g.size());
      for (std::size_t i = 0; i < g.size(); ++i) expected[i] = a.parameters()[i] - 0.5f * g[i];
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), b.parameters().begin()))
          << weight_gradients_name(how) << ", " << threads << " threads";
    }
}

TEST(LossGradient, RefusesDropoutWithItsReason) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> model(ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax, 0.2));
  model.initialize(1);
  Engine engine(model, config(1, 8, WeightGradients::buffers, 0));
  std::vector<float> g(model.parameter_count());
  try {
    engine.loss_gradient(d, all_rows(8), g);
    FAIL() << "dropout accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without dropout"), std::string::npos) << e.what();
  }
  Model<float> plain(ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax));
  Engine other(plain, config(1, 8, WeightGradients::buffers, 0));
  std::vector<float> h(plain.parameter_count());
  EXPECT_THROW(other.loss_gradient(d, {}, h), std::invalid_argument);
  std::vector<float> wrong(plain.parameter_count() + 1);
  EXPECT_THROW(other.loss_gradient(d, all_rows(8), wrong), std::invalid_argument);
}

}  // namespace
}  // namespace dptrain
