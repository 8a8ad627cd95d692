// Finite-difference gradient checks in float64 through the same templated code the trainer runs
// in float32: every activation in a hidden layer, every loss with its output, label and
// real-valued targets, and dropout with a fixed mask.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace dptrain {
namespace {

struct Case {
  const char* name;
  Activation hidden;
  Activation output;
  Loss loss;
  std::size_t outputs;
  bool labels;  // integer labels or real-valued targets
  double dropout;
};

class GradientCheck : public ::testing::TestWithParam<Case> {};

TEST_P(GradientCheck, AnalyticMatchesCentralDifferences) {
  const Case c = GetParam();
  const std::size_t rows = 6, inputs = 4;
  ModelSpec spec = ModelSpec::mlp({inputs, 5, 4, c.outputs}, c.hidden, c.output, c.dropout);
  Model<double> model(spec);
  model.initialize(7);
  // Non-zero biases so every parameter matters.
  auto params = model.parameters();
  const auto noise = test::random_vector<double>(params.size(), 8, -0.1, 0.1);
  for (std::size_t i = model.weight_count(); i < params.size(); ++i) params[i] = noise[i];
  Workspace<double> ws(spec, rows, GemmBackend::reference);
  const auto x = test::random_vector<double>(rows * inputs, 9);

  std::vector<std::int32_t> labels(rows);
  for (std::size_t r = 0; r < rows; ++r)
    labels[r] = std::int32_t(r % (c.outputs == 1 ? 2 : c.outputs));
  std::vector<float> values(rows * c.outputs);
  Rng rng(10);
  for (auto& v : values) v = float(c.loss == Loss::mse ? rng.uniform(-1, 1) : rng.uniform());
  if (c.loss == Loss::ce && !c.labels)  // soft targets summing to one per row
    for (std::size_t r = 0; r < rows; ++r) {
      float sum = 0;
      for (std::size_t k = 0; k < c.outputs; ++k) sum += values[r * c.outputs + k];
      for (std::size_t k = 0; k < c.outputs; ++k) values[r * c.outputs + k] /= sum;
    }
  TargetsView targets = c.labels ? TargetsView{labels.data(), nullptr, 1}
                                 : TargetsView{nullptr, values.data(), c.outputs};
  test::LossProbe probe{model, ws, x, rows, c.loss, targets, DropoutKey{3, 1, 0}};
  EXPECT_LT(test::max_gradient_error(model, probe), 1e-6) << c.name;
}

const Case kCases[] = {
    {"identity_mse", Activation::identity, Activation::identity, Loss::mse, 3, false, 0},
    {"sigmoid_mse", Activation::sigmoid, Activation::sigmoid, Loss::mse, 3, false, 0},
    {"tanh_mse_tanh", Activation::tanh, Activation::tanh, Loss::mse, 2, false, 0},
    {"relu_softmax_mse", Activation::relu, Activation::softmax, Loss::mse, 3, true, 0},
    {"leaky_bce_labels", Activation::leaky_relu, Activation::sigmoid, Loss::bce, 1, true, 0},
    {"tanh_bce_multilabel", Activation::tanh, Activation::sigmoid, Loss::bce, 3, false, 0},
    {"relu_ce_labels", Activation::relu, Activation::softmax, Loss::ce, 4, true, 0},
    {"sigmoid_ce_soft", Activation::sigmoid, Activation::softmax, Loss::ce, 3, false, 0},
    {"identity_mse_labels", Activation::identity, Activation::identity, Loss::mse, 1, true, 0},
    {"tanh_dropout_ce", Activation::tanh, Activation::softmax, Loss::ce, 3, true, 0.4},
    {"relu_dropout_mse", Activation::relu, Activation::identity, Loss::mse, 2, false, 0.3},
};

INSTANTIATE_TEST_SUITE_P(Layers, GradientCheck, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Every fast single-precision kernel (oneDNN among them, whose products here are big enough to
// run through it) gives the gradient that the float64 reference computes, checked above by
// central differences, up to float rounding.
TEST(GradientCheck, FastFloatKernelsMatchTheFloat64Reference) {
  const test::Float64Gradient reference;
  Model<float> model = reference.float_model();
  for (GemmBackend backend : {GemmBackend::onednn, GemmBackend::openblas, GemmBackend::eigen}) {
    if (!gemm_backend_available(backend)) continue;
    Workspace<float> ws(reference.spec, reference.kRows, backend);
    const std::vector<float> grads = reference.float_gradient(ws, model);
    double worst = 0;
    for (std::size_t i = 0; i < grads.size(); ++i)
      worst = std::max(worst, std::abs(grads[i] - reference.gradient[i]) /
                                  std::max(1e-3, std::abs(reference.gradient[i])));
    EXPECT_LT(worst, 1e-3) << gemm_backend_name(backend);
  }
}

}  // namespace
}  // namespace dptrain
