#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "test_util.hpp"

namespace dptrain {
namespace {

TEST(Model, FlatLayoutWeightsFirstCacheLineAligned) {
  Model<float> m(ModelSpec::mlp({784, 128, 10}, Activation::relu, Activation::softmax));
  const auto& d = m.dense_layers();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.parameters().data()) % 64, 0u);
  for (const auto& l : d) {
    EXPECT_EQ(l.weight_offset % 16, 0u);
    EXPECT_EQ(l.bias_offset % 16, 0u);
    EXPECT_LT(l.weight_offset, m.weight_count());
    EXPECT_GE(l.bias_offset, m.weight_count());
  }
  EXPECT_EQ(m.trainable_count(), 784u * 128 + 128 + 128 * 10 + 10);
  EXPECT_GE(m.parameter_count(), m.trainable_count());
}

TEST(Model, InitialisationIsSeededAndScaled) {
  const ModelSpec spec = ModelSpec::mlp({100, 50, 10}, Activation::relu, Activation::softmax);
  Model<float> a(spec), b(spec), c(spec);
  a.initialize(1);
  b.initialize(1);
  c.initialize(2);
  EXPECT_EQ(params_hash<float>(a.parameters()), params_hash<float>(b.parameters()));
  EXPECT_NE(params_hash<float>(a.parameters()), params_hash<float>(c.parameters()));
  // He uniform for relu: |w| <= sqrt(6 / fan_in); Glorot for the softmax layer.
  const auto& d = a.dense_layers();
  for (std::size_t i = 0; i < 100 * 50; ++i)
    EXPECT_LE(std::abs(a.parameters()[d[0].weight_offset + i]), std::sqrt(6.0f / 100));
  for (std::size_t i = 0; i < 50 * 10; ++i)
    EXPECT_LE(std::abs(a.parameters()[d[1].weight_offset + i]), std::sqrt(6.0f / 60));
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(a.parameters()[d[1].bias_offset + i], 0.0f);
}

TEST(Model, CloneCopiesParametersButSharesNothing) {
  Model<float> a(ModelSpec::mlp({4, 3, 2}, Activation::tanh, Activation::softmax));
  a.initialize(5);
  Model<float> b = a.clone();
  EXPECT_NE(a.parameters().data(), b.parameters().data());
  EXPECT_EQ(params_hash<float>(a.parameters()), params_hash<float>(b.parameters()));
  b.parameters()[0] += 1.0f;
  EXPECT_NE(a.parameters()[0], b.parameters()[0]);
  static_assert(!std::is_copy_constructible_v<Model<float>>);
}

TEST(Model, ForwardMatchesHandComputation) {
  // 2-2-1: hidden relu, output identity, weights set by hand.
  Model<double> m(ModelSpec::mlp({2, 2, 1}, Activation::relu, Activation::identity));
  auto p = m.parameters();
  const auto& d = m.dense_layers();
  double* w1 = &p[d[0].weight_offset];  // (in 2 x out 2)
  w1[0] = 1;
  w1[1] = -1;
  w1[2] = 2;
  w1[3] = 0.5;
  p[d[0].bias_offset] = 0.5;
  p[d[0].bias_offset + 1] = -3;
  p[d[1].weight_offset] = 2;
  p[d[1].weight_offset + 1] = 4;
  p[d[1].bias_offset] = 1;
  Workspace<double> ws(m.spec(), 1, GemmBackend::reference);
  Activations<double> activations(m.spec(), 1);
  const double x[] = {1, 2};
  m.forward(ws, activations.rows(0), x, 1, false);
  // h = relu([1 + 4 + 0.5, -1 + 1 - 3]) = [5.5, 0]; y = 2 * 5.5 + 0 + 1 = 12
  EXPECT_DOUBLE_EQ(activations.rows(0).logits()[0], 12.0);
}

// Note [One activation layout]: a pass written at rows [3, 9) of a larger store gives the bits
// of the same pass in a store of its own (gradient included), so where a unit's rows sit in the
// batch's activations changes nothing; the store's bounds are checked.
TEST(Model, PassAtAnyRowsOfTheActivationsGivesTheSameBits) {
  const ModelSpec spec = ModelSpec::mlp({7, 33, 5}, Activation::tanh, Activation::softmax, 0.25);
  Model<float> m(spec);
  m.initialize(4);
  const std::size_t rows = 6;
  const std::vector<float> x = test::random_vector<float>(rows * 7, 5);
  std::vector<std::int32_t> labels(rows);
  for (std::size_t r = 0; r < rows; ++r) labels[r] = std::int32_t(r % 5);
  auto pass = [&](Activations<float>& store, std::size_t first) {
    Workspace<float> ws(spec, rows, default_gemm_backend());
    const ActivationRows<float> a = store.rows(first);
    std::copy(x.begin(), x.end(), a.input());
    m.forward(ws, a, a.input(), rows, true, DropoutKey{1, 2, 3});
    loss_forward_backward<float>(Loss::ce, Activation::softmax, a.logits(), rows, 5,
                                 TargetsView{labels.data(), nullptr, 1}, 1.0f / rows, ws.outputs(),
                                 a.logit_grad());
    std::vector<float> grads(m.parameter_count());
    m.backward(ws, a, a.input(), rows, grads.data());
    std::vector<float> logits(a.logits(), a.logits() + rows * 5);
    return std::make_pair(logits, grads);
  };
  Activations<float> own(spec, rows), batch(spec, rows + 3);
  EXPECT_EQ(pass(own, 0), pass(batch, 3));
  Workspace<float> ws(spec, rows, default_gemm_backend());
  EXPECT_THROW(m.forward(ws, batch.rows(4), x.data(), rows, false), std::logic_error);  // 4 + 6 > 9
  EXPECT_THROW(batch.rows(10), std::logic_error);
}

TEST(ModelSpec, RejectsBadStacks) {
  EXPECT_THROW(ModelSpec::mlp({4}, Activation::relu, Activation::softmax), Error);
  EXPECT_THROW(ModelSpec::mlp({4, 0, 2}, Activation::relu, Activation::softmax), Error);
  EXPECT_THROW(ModelSpec::mlp({4, 3, 2}, Activation::softmax, Activation::softmax), Error);
  EXPECT_THROW(ModelSpec::mlp({4, 3, 2}, Activation::relu, Activation::softmax, 1.0), Error);
  EXPECT_EQ(ModelSpec::mlp({784, 128, 10}, Activation::relu, Activation::softmax).describe(),
            "784-128(relu)-10(softmax)");
}

}  // namespace
}  // namespace dptrain
