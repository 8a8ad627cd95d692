#include <gtest/gtest.h>

#include <cmath>

#include "test_util.hpp"

namespace dptrain {
namespace {

TEST(Activation, ForwardHandValues) {
  std::vector<double> v = {-2, 0, 3};
  auto apply = [&](Activation a) {
    auto copy = v;
    activation_forward<double>(a, copy.data(), 1, 3);
    return copy;
  };
  EXPECT_EQ(apply(Activation::identity), v);
  EXPECT_EQ(apply(Activation::relu), (std::vector<double>{0, 0, 3}));
  EXPECT_EQ(apply(Activation::leaky_relu), (std::vector<double>{-0.02, 0, 3}));
  const auto s = apply(Activation::sigmoid);
  EXPECT_NEAR(s[0], 1 / (1 + std::exp(2.0)), 1e-15);
  EXPECT_EQ(s[1], 0.5);
  EXPECT_NEAR(apply(Activation::tanh)[2], std::tanh(3.0), 1e-15);
  const auto sm = apply(Activation::softmax);
  const double denom = std::exp(-2.0) + 1 + std::exp(3.0);
  EXPECT_NEAR(sm[0], std::exp(-2.0) / denom, 1e-15);
  EXPECT_NEAR(sm[2], std::exp(3.0) / denom, 1e-15);
}

TEST(Activation, SoftmaxAndSigmoidDoNotOverflow) {
  std::vector<float> v = {1000.0f, 1001.0f, -1000.0f};
  activation_forward<float>(Activation::softmax, v.data(), 1, 3);
  for (float x : v) EXPECT_TRUE(std::isfinite(x));
  EXPECT_NEAR(v[1], 1.0f / (1.0f + std::exp(-1.0f)), 1e-6f);
  std::vector<float> s = {-1000.0f, 1000.0f};
  activation_forward<float>(Activation::sigmoid, s.data(), 1, 2);
  EXPECT_EQ(s[0], 0.0f);
  EXPECT_EQ(s[1], 1.0f);
}

TEST(Activation, BackwardMatchesFiniteDifferences) {
  for (Activation a : {Activation::identity, Activation::sigmoid, Activation::tanh,
                       Activation::relu, Activation::leaky_relu, Activation::softmax}) {
    const std::size_t cols = 5;
    const auto z = test::random_vector<double>(cols, 11, -2, 2);
    const auto upstream = test::random_vector<double>(cols, 12);
    auto f = [&](const std::vector<double>& zz) {  // scalar: upstream . f(z)
      auto out = zz;
      activation_forward<double>(a, out.data(), 1, cols);
      double s = 0;
      for (std::size_t i = 0; i < cols; ++i) s += upstream[i] * out[i];
      return s;
    };
    auto out = z;
    activation_forward<double>(a, out.data(), 1, cols);
    auto grad = upstream;
    activation_backward<double>(a, out.data(), grad.data(), 1, cols);
    for (std::size_t i = 0; i < cols; ++i) {
      auto up = z, down = z;
      up[i] += 1e-6;
      down[i] -= 1e-6;
      EXPECT_NEAR(grad[i], (f(up) - f(down)) / 2e-6, 1e-7) << activation_name(a) << " " << i;
    }
  }
}

TEST(Activation, ParseRejectsUnknown) {
  EXPECT_EQ(parse_activation("leaky_relu"), Activation::leaky_relu);
  try {
    parse_activation("swish");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'swish'"), std::string::npos);
  }
}

}  // namespace
}  // namespace dptrain
