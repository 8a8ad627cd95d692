// Learning-rate schedules: constant, step and cosine against values computed by hand.
#include <gtest/gtest.h>

#include "dptrain/error.hpp"
#include "dptrain/schedule.hpp"

namespace dptrain {
namespace {

TEST(Schedule, StepAndCosine) {
  ScheduleConfig s;
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 999, 10, 1000), 0.1);
  s.kind = ScheduleKind::step;
  s.step_epochs = 2;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 19, 10, 100), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 20, 10, 100), 0.05);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 45, 10, 100), 0.025);
  s.kind = ScheduleKind::cosine;
  s.min_lr = 0.01;
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 0, 10, 100), 0.1);
  EXPECT_NEAR(learning_rate_at(s, 0.1, 50, 10, 100), 0.055, 1e-12);
  EXPECT_NEAR(learning_rate_at(s, 0.1, 100, 10, 100), 0.01, 1e-12);
}

TEST(Schedule, ConstantIsTheBaseRateAtEveryStep) {
  const ScheduleConfig s;  // constant is the default
  EXPECT_EQ(s.kind, ScheduleKind::constant);
  for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{37}, std::size_t{99}})
    EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.03, step, 10, 100), 0.03) << step;
  // step_epochs, gamma and min_lr belong to the other schedules.
  ScheduleConfig other;
  other.step_epochs = 1;
  other.gamma = 0.5;
  other.min_lr = 0.01;
  EXPECT_DOUBLE_EQ(learning_rate_at(other, 0.03, 50, 10, 100), 0.03);
}

TEST(Schedule, StepHandComputed) {
  // base 0.1, 10 steps per epoch, halved every 2 epochs: epoch = step / 10.
  ScheduleConfig s;
  s.kind = ScheduleKind::step;
  s.step_epochs = 2;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 0, 10, 100), 0.1);      // epoch 0
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 10, 10, 100), 0.1);     // epoch 1: 0.1 * 0.5^0
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 39, 10, 100), 0.05);    // epoch 3: 0.1 * 0.5^1
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 40, 10, 100), 0.025);   // epoch 4: 0.1 * 0.5^2
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 60, 10, 100), 0.0125);  // epoch 6: 0.1 * 0.5^3
  // The defaults: x 0.1 every 10 epochs; 5 steps per epoch, step 100 is epoch 20: 2 * 0.1^2.
  ScheduleConfig d;
  d.kind = ScheduleKind::step;
  EXPECT_DOUBLE_EQ(learning_rate_at(d, 2.0, 49, 5, 1000), 2.0);  // epoch 9
  EXPECT_DOUBLE_EQ(learning_rate_at(d, 2.0, 50, 5, 1000), 0.2);  // epoch 10
  EXPECT_NEAR(learning_rate_at(d, 2.0, 100, 5, 1000), 0.02, 1e-15);
}

TEST(Schedule, CosineHandComputed) {
  // min + (base - min) * (1 + cos(pi * step / total)) / 2, base 0.1, 100 steps.
  ScheduleConfig s;
  s.kind = ScheduleKind::cosine;
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0.1, 0, 10, 100), 0.1);
  // cos(pi / 4) = sqrt(2) / 2: 0.1 * (1 + 0.70710678118654752) / 2
  EXPECT_NEAR(learning_rate_at(s, 0.1, 25, 10, 100), 0.085355339059327376, 1e-15);
  EXPECT_NEAR(learning_rate_at(s, 0.1, 50, 10, 100), 0.05, 1e-15);
  // cos(3 pi / 4) = -sqrt(2) / 2: 0.1 * (1 - 0.70710678118654752) / 2
  EXPECT_NEAR(learning_rate_at(s, 0.1, 75, 10, 100), 0.014644660940672624, 1e-15);
  EXPECT_NEAR(learning_rate_at(s, 0.1, 100, 10, 100), 0.0, 1e-15);
  // With a floor of 0.01: 0.01 + 0.09 * (1 + 0.70710678118654752) / 2
  s.min_lr = 0.01;
  EXPECT_NEAR(learning_rate_at(s, 0.1, 25, 10, 100), 0.086819805153394639, 1e-15);
  EXPECT_NEAR(learning_rate_at(s, 0.1, 75, 10, 100), 0.023180194846605362, 1e-15);
}

TEST(Schedule, NamesParseAndBadSettingsAreRejected) {
  for (ScheduleKind k : {ScheduleKind::constant, ScheduleKind::step, ScheduleKind::cosine})
    EXPECT_EQ(parse_schedule(schedule_name(k)), k);
  EXPECT_THROW(parse_schedule("exponential"), Error);
  ScheduleConfig s;
  EXPECT_NO_THROW(s.validate());
  s.kind = ScheduleKind::step;
  s.step_epochs = 0;
  EXPECT_THROW(s.validate(), Error);
  s.step_epochs = 1;
  s.gamma = 0;
  EXPECT_THROW(s.validate(), Error);
  s.gamma = 0.5;
  s.min_lr = -0.1;
  EXPECT_THROW(s.validate(), Error);
}

}  // namespace
}  // namespace dptrain
