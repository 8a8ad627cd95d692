#include <gtest/gtest.h>

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
