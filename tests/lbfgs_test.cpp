// L-BFGS (lbfgs.hpp): minimize_lbfgs's stopping rules on known functions, and Trainer::fit with
// optimizer lbfgs (iterations as epochs, its refusals).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace dptrain {
namespace {

/// Rosenbrock's function in 2-D: minimum 0 at (1, 1).
double rosenbrock(std::span<const double> x, std::span<double> g) {
  const double a = 1 - x[0], b = x[1] - x[0] * x[0];
  g[0] = -2 * a - 400 * x[0] * b;
  g[1] = 200 * b;
  return a * a + 100 * b * b;
}

TEST(Lbfgs, ConvergesOnRosenbrockWithinTol) {
  std::vector<double> x{-1.2, 1.0};
  std::size_t calls = 0;
  const LbfgsResult r = minimize_lbfgs(x, 200, LbfgsSettings{15000, 1e-8, 10}, rosenbrock,
                                       [&](const LbfgsIteration& it) {
                                         EXPECT_EQ(it.iteration, ++calls);
                                         EXPECT_GE(it.evaluations, 1u);
                                         return true;
                                       });
  EXPECT_TRUE(r.converged()) << r.reason;
  EXPECT_NEAR(x[0], 1.0, 1e-4);
  EXPECT_NEAR(x[1], 1.0, 1e-4);
  EXPECT_LT(r.loss, 1e-8);
  EXPECT_EQ(r.iterations, calls);
  EXPECT_GE(r.evaluations, r.iterations);
}

TEST(Lbfgs, StopsAtMaxIterAndMaxFunWithTheirReasons) {
  std::vector<double> x{-1.2, 1.0};
  LbfgsResult r = minimize_lbfgs(x, 3, LbfgsSettings{15000, 1e-8, 10}, rosenbrock);
  EXPECT_EQ(r.stop, LbfgsStop::max_iter);
  EXPECT_EQ(r.iterations, 3u);
  EXPECT_FALSE(r.converged());
  EXPECT_NE(r.reason.find("max_iter 3"), std::string::npos) << r.reason;
  x = {-1.2, 1.0};
  r = minimize_lbfgs(x, 200, LbfgsSettings{5, 1e-8, 10}, rosenbrock);
  EXPECT_EQ(r.stop, LbfgsStop::max_fun);
  EXPECT_GE(r.evaluations, 5u);
  EXPECT_LT(r.iterations, 5u);
  EXPECT_NE(r.reason.find("max_fun 5"), std::string::npos) << r.reason;
  // The point returned is the last iteration's: its loss is the one reported.
  std::vector<double> g(2);
  EXPECT_DOUBLE_EQ(rosenbrock(x, g), r.loss);
}

TEST(Lbfgs, ObjectiveExceptionsPassThroughAndBadSettingsAreRefused) {
  std::vector<double> x{0.5, 0.5};
  int calls = 0;
  auto throws_third = [&](std::span<const double> at, std::span<double> g) {
    if (++calls == 3) throw std::runtime_error("objective failed");
    return rosenbrock(at, g);
  };
  EXPECT_THROW(minimize_lbfgs(x, 100, {}, throws_third), std::runtime_error);
  auto nan = [](std::span<const double>, std::span<double> g) {
    g[0] = g[1] = 0;
    return std::nan("");
  };
  EXPECT_THROW(minimize_lbfgs(x, 100, {}, nan), Error);
  EXPECT_THROW(minimize_lbfgs(x, 100, LbfgsSettings{0, 1e-4, 10}, rosenbrock), Error);
  EXPECT_THROW(minimize_lbfgs(x, 100, LbfgsSettings{10, -1, 10}, rosenbrock), Error);
  EXPECT_THROW(minimize_lbfgs(x, 0, {}, rosenbrock), Error);
}

TrainConfig lbfgs_config(std::size_t iterations) {
  TrainConfig c;
  c.optimizer.kind = OptimizerKind::lbfgs;
  c.optimizer.l2 = 1e-4;
  c.epochs = iterations;
  c.batch_size = 100;  // passes of 100 rows over the whole set
  c.threads = 2;
  c.backend = test::first_test_backend();
  c.min_flops_per_worker = 0;
  return c;
}

TEST(Lbfgs, TrainerFitRunsIterationsAsEpochsWithFallingLoss) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> model(ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax));
  model.initialize(3);
  TrainConfig config = lbfgs_config(15);
  std::size_t step_calls = 0;
  config.on_step = [&](std::size_t done, std::size_t total) {
    EXPECT_GE(done, 1u);
    EXPECT_EQ(total, 0u);
    ++step_calls;
  };
  Trainer trainer(model, config);
  std::vector<float> gradient(model.parameter_count());
  std::vector<std::uint32_t> rows(d.rows);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = std::uint32_t(i);
  const double start = trainer.engine().loss_gradient(d, rows, gradient).loss;
  const FitResult r = trainer.fit(d, FitOptions{});
  ASSERT_TRUE(r.lbfgs.has_value());
  ASSERT_EQ(r.epochs.size(), r.lbfgs->iterations);
  EXPECT_EQ(trainer.epochs_done(), r.epochs.size());
  std::size_t evaluations = 0;
  double previous = start;
  for (const EpochResult& e : r.epochs) {
    EXPECT_GE(e.evaluations, 1u);
    evaluations += e.evaluations;
    const double l2_term = 0;  // the data loss falls with the objective here (l2 is tiny)
    EXPECT_LT(e.train_loss + l2_term, previous + 1e-3) << "iteration " << e.epoch;
    previous = e.train_loss;
  }
  EXPECT_LE(evaluations, r.lbfgs->evaluations);
  EXPECT_EQ(step_calls, r.lbfgs->evaluations);  // on_step after every evaluation
  // The model holds the point returned: its objective is the one L-BFGS reported.
  EXPECT_NEAR(trainer.engine().loss_gradient(d, rows, gradient).loss, r.lbfgs->loss, 1e-6);
  EXPECT_LT(r.lbfgs->loss, 0.5 * start);
  EXPECT_GT(r.epochs.back().train_metric, 0.8);
}

TEST(Lbfgs, AnOnStepExceptionEndsTheFitAndPassesThrough) {
  // As the Python binding's Ctrl-C check: thrown from inside libLBFGS's evaluation callback.
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> model(ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax));
  model.initialize(3);
  TrainConfig config = lbfgs_config(50);
  int calls = 0;
  config.on_step = [&](std::size_t, std::size_t) {
    if (++calls == 4) throw std::runtime_error("interrupted");
  };
  Trainer trainer(model, config);
  EXPECT_THROW(trainer.fit(d, FitOptions{}), std::runtime_error);
  EXPECT_EQ(calls, 4);
}

TEST(Lbfgs, RefusesWhatMakesNoSenseForAFullBatchMethod) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> model(ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax));
  model.initialize(3);
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  Trainer trainer(model, lbfgs_config(5));
  EXPECT_NE(message([&] { trainer.train_epoch(d); }).find("no minibatch steps"), std::string::npos);
  FitOptions early;
  early.validation = &d;
  early.patience = 2;
  EXPECT_NE(message([&] { trainer.fit(d, early); }).find("stochastic optimizer"),
            std::string::npos);
  TrainConfig l1 = lbfgs_config(5);
  l1.optimizer.l1 = 0.1;
  EXPECT_NE(message([&] { Trainer t(model, l1); }).find("l1 (--l1)"), std::string::npos);
  TrainConfig every = lbfgs_config(5);
  every.checkpoint_every.steps = 10;
  every.checkpoint_every.path = "/nonexistent/x.ckpt";
  EXPECT_NE(message([&] { Trainer t(model, every); }).find("--save-every"), std::string::npos);
}

}  // namespace
}  // namespace dptrain
