// bf16 precision (Note [Precision]): bf16 products with fp32 accumulation and fp32 master
// weights train like fp32, keep the determinism promise, and checkpoints move between the two.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "test_util.hpp"

namespace dptrain {
namespace {

bool bf16_runs() {
  return bf16_products_unavailable().empty();
}

#define REQUIRE_BF16() \
  if (!bf16_runs()) GTEST_SKIP() << bf16_products_unavailable()

TrainConfig config(Precision p, std::size_t threads = 1) {
  TrainConfig c;
  c.gemm = GemmBackend::onednn;
  c.precision = p;
  c.threads = threads;
  c.backend = parallel::Backend::threads;
  c.batch_size = 64;
  c.min_flops_per_worker = 0;
  return c;
}

TEST(Precision, ConversionRoundsToNearestEven) {
  const float in[] = {1.0f, 1.00390625f /* 1 + 2^-8: a tie, rounds to even (1) */,
                      1.01171875f /* 1 + 3*2^-8: a tie, rounds up to 1 + 2^-6 */, -2.5f, 3.0e38f};
  bf16 out[5];
  to_bf16(in, out, 5);
  EXPECT_EQ(from_bf16(out[0]), 1.0f);
  EXPECT_EQ(from_bf16(out[1]), 1.0f);
  EXPECT_EQ(from_bf16(out[2]), 1.015625f);
  EXPECT_EQ(from_bf16(out[3]), -2.5f);
  EXPECT_NEAR(from_bf16(out[4]) / 3.0e38f, 1.0f, 4e-3f);  // 8 significant bits
  std::vector<float> many(37);                            // a length off the 16-wide vector steps
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = 0.1f * float(i) - 1.7f;
  std::vector<bf16> conv(many.size());
  to_bf16(many.data(), conv.data(), many.size());
  for (std::size_t i = 0; i < many.size(); ++i)
    EXPECT_NEAR(from_bf16(conv[i]), many[i], std::abs(many[i]) * 4e-3f + 1e-30f) << i;
}

TEST(Precision, SettingsThatCannotRunAreRefused) {
  TrainConfig c = config(Precision::bf16);
  c.gemm = GemmBackend::eigen;
  EXPECT_THROW(c.validate(), Error);
  c = config(Precision::bf16);
  c.plan.parallelism = Parallelism::intra;
  EXPECT_THROW(c.validate(), Error);
  EXPECT_THROW(parse_precision("fp16"), Error);
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
  if (!bf16_runs()) {  // an AVX2-only CPU, or ONEDNN_MAX_CPU_ISA=AVX2 (tests/cli_test.sh)
    try {
      config(Precision::bf16).validate();
      ADD_FAILURE() << "bf16 accepted: " << bf16_products_unavailable();
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), bf16_products_unavailable());
      EXPECT_NE(std::string(e.what()).find("AVX512_BF16"), std::string::npos) << e.what();
    }
  }
}

TEST(Precision, Bf16GradientIsTheFloat64GradientUpToBf16Rounding) {
  REQUIRE_BF16();
  const test::Float64Gradient reference;
  const std::vector<double>& expected = reference.gradient;
  Model<float> model = reference.float_model();
  std::vector<bf16> weights(model.parameter_count());
  to_bf16(model.parameters().data(), weights.data(), weights.size());
  Workspace<float> ws(reference.spec, reference.kRows, GemmBackend::onednn);
  ws.enable_bf16(reference.spec, weights.data());
  const std::vector<float> grads = reference.float_gradient(ws, model);
  // bf16 keeps 8 significant bits (relative rounding 2^-9 per operand); summed over the
  // products the gradient stays within a few percent of its scale, not within float rounding.
  double scale = 0, worst = 0;
  for (double g : expected) scale = std::max(scale, std::abs(g));
  for (std::size_t i = 0; i < grads.size(); ++i)
    worst = std::max(worst, std::abs(grads[i] - expected[i]) / scale);
  EXPECT_LT(worst, 2e-2);
  EXPECT_GT(worst, 0.0);  // the bf16 path really ran: fp32 would agree to ~1e-6
}

TEST(Precision, DeterministicBf16GivesTheSameBitsForAnyThreadCount) {
  REQUIRE_BF16();
  const Dataset d = make_synthetic("blobs8", 2);
  auto run = [&](std::size_t threads) {
    Model<float> m(ModelSpec::mlp({8, 256, 128, 2}, Activation::relu, Activation::softmax, 0.1));
    m.initialize(5);
    TrainConfig c = config(Precision::bf16, threads);
    c.deterministic = true;
    c.micro_batches = 8;
    c.batch_size = 200;  // micro-batches of 25 rows: products big enough for bf16
    Trainer t(m, c);
    for (int e = 0; e < 2; ++e) t.train_epoch(d);
    return params_hash<float>(m.parameters());
  };
  const std::uint64_t reference = run(1);
  for (std::size_t n : {2u, 3u, 7u}) EXPECT_EQ(run(n), reference) << "threads " << n;
}

TEST(Precision, Bf16TrainsLikeFp32OnFashionMnist) {
  REQUIRE_BF16();
  if (!std::filesystem::exists(fashion_mnist_dir() + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not installed";
  const Dataset train = load_dataset("fashion-mnist", 0).head(6000);
  const Dataset test = load_dataset("fashion-mnist:test", 0).head(2000);
  auto run = [&](Precision p) {
    Model<float> m(ModelSpec::mlp({784, 128, 10}, Activation::relu, Activation::softmax));
    m.initialize(1);
    TrainConfig c = config(p, 2);
    c.epochs = 3;
    Trainer t(m, c);
    std::vector<double> losses;
    for (const EpochResult& e : t.fit(train)) losses.push_back(e.train_loss);
    return std::pair{losses, t.evaluate(test).metric()};
  };
  const auto [fp32_losses, fp32_acc] = run(Precision::fp32);
  const auto [bf16_losses, bf16_acc] = run(Precision::bf16);
  // bf16 rounding is noise far below the gradient noise of a 64-row minibatch: the curves stay
  // within a few percent, and test accuracy within 1.5 points (2000 rows: one point = 20 rows).
  for (std::size_t e = 0; e < fp32_losses.size(); ++e)
    EXPECT_NEAR(bf16_losses[e], fp32_losses[e], 0.05 * fp32_losses[e]) << "epoch " << e + 1;
  EXPECT_NEAR(bf16_acc, fp32_acc, 0.015);
  EXPECT_GT(bf16_acc, 0.78);
}

TEST(Precision, CheckpointsMoveBetweenPrecisions) {
  REQUIRE_BF16();
  const Dataset d = make_synthetic("blobs8", 2);
  const ModelSpec spec = ModelSpec::mlp({8, 256, 2}, Activation::relu, Activation::softmax);
  Model<float> m(spec);
  m.initialize(4);
  TrainConfig c = config(Precision::bf16);
  c.epochs = 4;
  Trainer bf16_trainer(m, c);
  bf16_trainer.fit(d, [](const EpochResult& e) { return e.epoch < 2; });
  const Checkpoint saved = decode_checkpoint(encode_checkpoint(bf16_trainer.checkpoint()), "mem");
  for (Precision resume_in : {Precision::fp32, Precision::bf16}) {
    Model<float> again(spec);
    TrainConfig rc = config(resume_in);
    rc.epochs = 4;
    Trainer t(again, rc);
    t.restore(saved);  // fp32 master weights; the bf16 copy is rebuilt from them
    const auto results = t.fit(d);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_LT(results.back().train_loss, 0.5) << precision_name(resume_in);
  }
}

}  // namespace
}  // namespace dptrain
