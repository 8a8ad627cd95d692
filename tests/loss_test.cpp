#include <gtest/gtest.h>

#include <cmath>

#include "test_util.hpp"

namespace dptrain {
namespace {

TEST(Loss, CrossEntropyHandValue) {
  const std::vector<double> z = {1.0, 2.0, 0.5};
  const std::int32_t label = 1;
  std::vector<double> out(3), dz(3);
  const double loss =
      loss_forward_backward<double>(Loss::ce, Activation::softmax, z.data(), 1, 3,
                                    {&label, nullptr, 1}, 1.0, out.data(), dz.data());
  const double denom = std::exp(1.0) + std::exp(2.0) + std::exp(0.5);
  EXPECT_NEAR(loss, -std::log(std::exp(2.0) / denom), 1e-12);
  EXPECT_NEAR(dz[0], std::exp(1.0) / denom, 1e-12);
  EXPECT_NEAR(dz[1], std::exp(2.0) / denom - 1, 1e-12);
}

TEST(Loss, CrossEntropyStableForHugeLogits) {
  const std::vector<float> z = {1000.0f, -1000.0f};
  const std::int32_t label = 1;
  std::vector<float> out(2), dz(2);
  const double loss =
      loss_forward_backward<float>(Loss::ce, Activation::softmax, z.data(), 1, 2,
                                   {&label, nullptr, 1}, 1.0f, out.data(), dz.data());
  EXPECT_NEAR(loss, 2000.0, 1e-3);
  EXPECT_TRUE(std::isfinite(dz[0]) && std::isfinite(dz[1]));
}

TEST(Loss, BinaryCrossEntropyOnLogitsHandValueAndStability) {
  const std::vector<double> z = {0.3, -50.0};
  const std::vector<float> y = {1.0f, 1.0f};
  std::vector<double> out(2), dz(2);
  const double loss =
      loss_forward_backward<double>(Loss::bce, Activation::sigmoid, z.data(), 2, 1,
                                    {nullptr, y.data(), 1}, 0.5, out.data(), dz.data());
  // -log(sigmoid(0.3)) + -log(sigmoid(-50)) = log(1 + e^-0.3) + 50 + log(1 + e^-50)
  EXPECT_NEAR(loss, std::log1p(std::exp(-0.3)) + 50.0 + std::log1p(std::exp(-50.0)), 1e-12);
  EXPECT_NEAR(dz[0], (1 / (1 + std::exp(-0.3)) - 1) * 0.5, 1e-12);
}

TEST(Loss, MeanSquaredErrorIsHalfMeanOfSquares) {
  const std::vector<double> z = {1.0, 3.0};
  const std::vector<float> y = {0.0f, 1.0f};
  std::vector<double> out(2), dz(2);
  const double loss =
      loss_forward_backward<double>(Loss::mse, Activation::identity, z.data(), 1, 2,
                                    {nullptr, y.data(), 2}, 1.0, out.data(), dz.data());
  EXPECT_DOUBLE_EQ(loss, 0.5 * (1.0 + 4.0) / 2);
  EXPECT_DOUBLE_EQ(dz[0], 0.5);
  EXPECT_DOUBLE_EQ(dz[1], 1.0);
}

TEST(Loss, RejectsLossThatDoesNotFitOutput) {
  EXPECT_THROW(check_loss_fits(Loss::bce, Activation::softmax, 3), Error);
  EXPECT_THROW(check_loss_fits(Loss::ce, Activation::sigmoid, 3), Error);
  EXPECT_THROW(check_loss_fits(Loss::ce, Activation::softmax, 1), Error);
  EXPECT_NO_THROW(check_loss_fits(Loss::mse, Activation::tanh, 1));
}

TEST(Loss, RejectsSoftmaxOverOneUnit) {
  // Softmax of one unit is 1 whatever its input: nothing to learn, with any loss.
  try {
    check_loss_fits(Loss::mse, Activation::softmax, 1);
    FAIL() << "mse on a softmax over one unit was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("over one unit always outputs 1"), std::string::npos);
    EXPECT_EQ(e.topic(), ErrorTopic::output_activation);
  }
  EXPECT_NO_THROW(check_loss_fits(Loss::mse, Activation::softmax, 2));
  EXPECT_NO_THROW(check_loss_fits(Loss::mse, Activation::sigmoid, 1));
  EXPECT_NO_THROW(check_loss_fits(Loss::bce, Activation::sigmoid, 1));
}

}  // namespace
}  // namespace dptrain
