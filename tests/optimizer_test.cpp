// Each optimizer's step against values computed by hand (w0 = 1, constant gradient 0.5,
// lr 0.1, two steps) and the regularisers.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "dptrain/error.hpp"
#include "dptrain/optimizer.hpp"

namespace dptrain {
namespace {

std::vector<double> two_steps(OptimizerConfig c, std::vector<double> w, std::vector<double> g,
                              std::size_t weight_count) {
  OptimizerState<double> state(c, w.size(), weight_count);
  for (std::uint64_t t = 1; t <= 2; ++t)
    state.update_range(std::span<double>(w), 0, std::span<const double>(g), c.learning_rate, t);
  return w;
}

double after_two(OptimizerKind kind, double weight_decay = 0) {
  OptimizerConfig c;
  c.kind = kind;
  c.learning_rate = 0.1;
  c.momentum = 0.9;
  c.weight_decay = weight_decay;
  return two_steps(c, {1.0}, {0.5}, 1)[0];
}

TEST(Optimizer, HandComputedTwoSteps) {
  EXPECT_NEAR(after_two(OptimizerKind::sgd), 0.9, 1e-12);          // 1 - 2 * 0.05
  EXPECT_NEAR(after_two(OptimizerKind::momentum), 0.855, 1e-12);   // v: 0.5, 0.95
  EXPECT_NEAR(after_two(OptimizerKind::nesterov), 0.7695, 1e-12);  // 1 - .095 - .1355
  // adagrad: s = 0.25, 0.5; w = 1 - 0.1 - 0.05 / sqrt(0.5)
  EXPECT_NEAR(after_two(OptimizerKind::adagrad), 0.9 - 0.05 / std::sqrt(0.5), 1e-9);
  // rmsprop (rho 0.9): s = 0.025, 0.0475
  EXPECT_NEAR(after_two(OptimizerKind::rmsprop),
              1 - 0.05 / std::sqrt(0.025) - 0.05 / std::sqrt(0.0475), 1e-6);
  // adam with a constant gradient: the bias-corrected step is lr each time
  EXPECT_NEAR(after_two(OptimizerKind::adam), 0.8, 1e-6);
  // adamw, wd 0.1: w1 = 1 * 0.99 - 0.1, w2 = 0.89 * 0.99 - 0.1
  EXPECT_NEAR(after_two(OptimizerKind::adamw, 0.1), 0.7811, 1e-6);
}

TEST(Optimizer, L1AndL2ApplyToWeightsNotBiases) {
  OptimizerConfig c;
  c.kind = OptimizerKind::sgd;
  c.learning_rate = 0.1;
  c.l2 = 0.2;
  c.l1 = 0.1;
  OptimizerState<double> state(c, 3, 2);  // params 0, 1 are weights; 2 is a bias
  std::vector<double> w = {1.0, -1.0, 1.0}, g = {0.5, 0.5, 0.5};
  state.update_range(std::span<double>(w), 0, std::span<const double>(g), 0.1, 1);
  EXPECT_NEAR(w[0], 1 - 0.1 * (0.5 + 0.2 + 0.1), 1e-12);
  EXPECT_NEAR(w[1], -1 - 0.1 * (0.5 - 0.2 - 0.1), 1e-12);
  EXPECT_NEAR(w[2], 1 - 0.1 * 0.5, 1e-12);
}

TEST(Optimizer, SlicedUpdateEqualsWholeUpdate) {
  OptimizerConfig c;
  c.kind = OptimizerKind::adam;
  c.l2 = 0.01;
  std::vector<double> w(100), g(100);
  for (int i = 0; i < 100; ++i) {
    w[i] = std::sin(i);
    g[i] = std::cos(3 * i);
  }
  auto whole = w, sliced = w;
  OptimizerState<double> a(c, 100, 60), b(c, 100, 60);
  a.update_range(std::span<double>(whole), 0, std::span<const double>(g), 1e-3, 1);
  const std::size_t cuts[] = {0, 16, 48, 64, 100};  // one cut inside the weights, one at 60
  for (std::size_t i = 0; i + 1 < 5; ++i)
    b.update_range(std::span<double>(sliced), cuts[i],
                   std::span<const double>(g).subspan(cuts[i], cuts[i + 1] - cuts[i]), 1e-3, 1);
  EXPECT_EQ(whole, sliced);
}

TEST(Optimizer, RejectsNonsense) {
  OptimizerConfig c;
  c.learning_rate = -1;
  EXPECT_THROW(c.validate(), Error);
  c.learning_rate = 0.1;
  c.momentum = 1.5;
  EXPECT_THROW(c.validate(), Error);
  EXPECT_THROW(parse_optimizer("bfgs"), Error);
  EXPECT_EQ(parse_optimizer("lbfgs"), OptimizerKind::lbfgs);
  c.momentum = 0.9;
  c.kind = OptimizerKind::lbfgs;
  c.weight_decay = 0.01;  // a step rule: no objective for L-BFGS
  EXPECT_THROW(c.validate(), Error);
  EXPECT_EQ(state_slots(OptimizerKind::adamw), 2u);
}

/// The message of c.validate(), or "" when it accepts c.
std::string refusal(const OptimizerConfig& c) {
  try {
    c.validate();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Optimizer, RefusesOutOfRangeSettingsNamingFlagAndRange) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const struct {
    double OptimizerConfig::*field;
    double value;
    const char* message;
  } cases[] = {
      {&OptimizerConfig::learning_rate, 1e30,
       "learning rate (--lr) must be in (0, 10000], got 1e+30"},
      {&OptimizerConfig::learning_rate, 0, "learning rate (--lr) must be in (0, 10000], got 0"},
      {&OptimizerConfig::learning_rate, nan, "learning rate (--lr) must be in (0, 10000]"},
      {&OptimizerConfig::momentum, 1, "momentum (--momentum) must be in [0, 1), got 1"},
      {&OptimizerConfig::beta1, -0.1, "adam beta1 must be in [0, 1), got -0.1"},
      {&OptimizerConfig::beta2, 1, "adam beta2 must be in [0, 1), got 1"},
      {&OptimizerConfig::rho, nan, "rmsprop rho must be in [0, 1)"},
      {&OptimizerConfig::epsilon, 0,
       "epsilon (negative: the optimizer's default) must be in (0, 1]"},
      {&OptimizerConfig::epsilon, nan, "epsilon (negative: the optimizer's default) must be in"},
      {&OptimizerConfig::weight_decay, 1e30, "weight decay (--weight-decay) must be in [0, 1000]"},
      {&OptimizerConfig::l1, 1e30, "l1 penalty (--l1) must be in [0, 1000], got 1e+30"},
      {&OptimizerConfig::l2, 1e30, "l2 penalty (--l2) must be in [0, 1000], got 1e+30"},
      {&OptimizerConfig::l2, -1, "l2 penalty (--l2) must be in [0, 1000], got -1"},
      {&OptimizerConfig::l2, std::numeric_limits<double>::infinity(), "l2 penalty (--l2)"},
  };
  for (const auto& c : cases) {
    OptimizerConfig config;
    config.*c.field = c.value;
    EXPECT_EQ(refusal(config).rfind(c.message, 0), 0u) << refusal(config);
  }
  OptimizerConfig decay;
  decay.learning_rate = 0.5;
  decay.weight_decay = 2;  // each step would scale the weights by 1 - 0.5 * 2 = 0
  EXPECT_NE(refusal(decay).find("times the learning rate (--lr) must be below 1"),
            std::string::npos);
  OptimizerConfig edges;  // the ends of the ranges are accepted
  edges.learning_rate = 1e4;
  edges.l1 = edges.l2 = 1e3;
  edges.epsilon = 1;
  edges.weight_decay = 0;
  EXPECT_EQ(refusal(edges), "");
}

}  // namespace
}  // namespace dptrain
