#include <gtest/gtest.h>

#include <cmath>

#include "dptrain/metrics.hpp"

namespace dptrain {
namespace {

TEST(ConfusionMatrix, HandComputedBinaryScores) {
  ConfusionMatrix m(2);
  // truth 1: 3 caught, 1 missed; truth 0: 4 correct, 2 false alarms.
  for (int i = 0; i < 3; ++i) m.add(1, 1);
  m.add(1, 0);
  for (int i = 0; i < 4; ++i) m.add(0, 0);
  for (int i = 0; i < 2; ++i) m.add(0, 1);
  EXPECT_EQ(m.total(), 10u);
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.7);
  EXPECT_DOUBLE_EQ(m.precision(1), 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(m.recall(1), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(m.f1(1), 2 * 0.6 * 0.75 / (0.6 + 0.75));
  EXPECT_DOUBLE_EQ(m.precision(0), 4.0 / 5.0);
  EXPECT_DOUBLE_EQ(m.recall(0), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.macro_precision(), (0.6 + 0.8) / 2);
  EXPECT_DOUBLE_EQ(m.macro_recall(), (0.75 + 4.0 / 6.0) / 2);
}

TEST(ConfusionMatrix, MergeAndEmptyClasses) {
  ConfusionMatrix a(3), b(3);
  a.add(0, 0);
  b.add(1, 0);
  a += b;
  EXPECT_EQ(a.count(1, 0), 1u);
  EXPECT_DOUBLE_EQ(a.precision(2), 0.0);  // never predicted
  EXPECT_DOUBLE_EQ(a.recall(2), 0.0);     // never present
  EXPECT_DOUBLE_EQ(a.f1(2), 0.0);
  ConfusionMatrix c(2);
  EXPECT_THROW(a += c, std::logic_error);
}

TEST(RegressionMetrics, MseAndMae) {
  RegressionMetrics r;
  r.sum_squared_error = 10;
  r.sum_absolute_error = 4;
  r.count = 4;
  EXPECT_DOUBLE_EQ(r.mse(), 2.5);
  EXPECT_DOUBLE_EQ(r.mae(), 1.0);
}

// Hand-computed (and checked against scikit-learn's mean_squared_error, mean_absolute_error and
// r2_score): y = 3, -0.5, 2, 7; predictions 2.5, 0, 2, 8. Squared errors 0.25, 0.25, 0, 1 (MSE
// 0.375), absolute 0.5, 0.5, 0, 1 (MAE 0.5); mean y 2.875, SST 29.1875, R² = 1 - 1.5/29.1875.
TEST(RegressionMetrics, RmseMaeAndR2ByHand) {
  const float y[] = {3.0f, -0.5f, 2.0f, 7.0f};
  const float p[] = {2.5f, 0.0f, 2.0f, 8.0f};
  RegressionMetrics whole;
  whole.add(p, y, 4, 1);
  EXPECT_DOUBLE_EQ(whole.mse(), 0.375);
  EXPECT_DOUBLE_EQ(whole.rmse(), std::sqrt(0.375));
  EXPECT_DOUBLE_EQ(whole.mae(), 0.5);
  EXPECT_NEAR(whole.r2(), 1.0 - 1.5 / 29.1875, 1e-12);
  EXPECT_NEAR(whole.r2(), 0.9486081370449679, 1e-12);
  // Split as workers split rows (1 + 3, and an empty part) and merged: the same figures.
  RegressionMetrics a, b, empty;
  a.add(p, y, 1, 1);
  b.add(p + 1, y + 1, 3, 1);
  a += empty;
  a += b;
  EXPECT_EQ(a.count, 4u);
  EXPECT_DOUBLE_EQ(a.mse(), 0.375);
  EXPECT_NEAR(a.r2(), whole.r2(), 1e-12);
  empty += a;
  EXPECT_NEAR(empty.r2(), whole.r2(), 1e-12);
}

// Two outputs: R² per column, then their mean (r2_score's uniform_average): column 0 has
// SSE 1.25 and SST 38.1667, column 1 SSE 3 and SST 98 -> 0.9368005266622779.
TEST(RegressionMetrics, R2AveragesOverOutputColumns) {
  const float y[] = {0.5f, 1.0f, -1.0f, 1.0f, 7.0f, -6.0f};
  const float p[] = {0.0f, 2.0f, -1.0f, 2.0f, 8.0f, -5.0f};
  RegressionMetrics m;
  m.add(p, y, 3, 2);
  EXPECT_NEAR(m.mse(), 0.7083333333333334, 1e-12);
  EXPECT_NEAR(m.mae(), 0.75, 1e-12);
  EXPECT_NEAR(m.r2(), 0.9368005266622779, 1e-12);
  RegressionMetrics one;
  one.add(p, y, 1, 1);
  EXPECT_THROW(m += one, std::logic_error);
}

// Targets around a million (where sum-of-squares formulas cancel) and a constant column:
// column 0 scores 1 - 2/8, the constant column predicted exactly scores 1; mean 0.875.
TEST(RegressionMetrics, R2StaysExactForLargeMeansAndConstantTargets) {
  const float y[] = {1e6f + 1, 5, 1e6f - 1, 5, 1e6f + 3, 5};
  const float p[] = {1e6f + 1, 5, 1e6f, 5, 1e6f + 2, 5};
  RegressionMetrics m, first, rest;
  m.add(p, y, 3, 2);
  EXPECT_NEAR(m.r2(), 0.875, 1e-12);
  first.add(p, y, 2, 2);
  rest.add(p + 4, y + 4, 1, 2);
  first += rest;
  EXPECT_NEAR(first.r2(), 0.875, 1e-12);
  const float off[] = {1e6f + 1, 6, 1e6f, 5, 1e6f + 2, 5};
  RegressionMetrics wrong;
  wrong.add(off, y, 3, 2);
  EXPECT_NEAR(wrong.r2(), 0.375, 1e-12);  // the constant column missed once scores 0
}

TEST(PredictedClass, ArgmaxAndThreshold) {
  const float probs[] = {0.1f, 0.7f, 0.2f};
  EXPECT_EQ(predicted_class(probs, 3), 1u);
  const float p1[] = {0.5f};
  EXPECT_EQ(predicted_class(p1, 1), 1u);
  const float p0[] = {0.49f};
  EXPECT_EQ(predicted_class(p0, 1), 0u);
}

}  // namespace
}  // namespace dptrain
