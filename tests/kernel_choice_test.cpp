// KernelChoice (Note [Kernel wisdom] in include/dptrain/kernel_choice.hpp): its text form round
// trips and refuses malformed text naming the part, a product with backend `automatic` runs on
// the kernel the choice names for its shape (bitwise the same as asking for that kernel), and a
// checkpoint carries the choice. The measuring and the cache file: kernel_choice_cli_test.sh.
#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dptrain/checkpoint.hpp"
#include "dptrain/error.hpp"
#include "dptrain/kernel_choice.hpp"
#include "dptrain/rng.hpp"
#include "dptrain/trainer.hpp"

namespace dptrain {
namespace {

TEST(KernelChoiceTest, TextRoundTrips) {
  KernelChoice c;
  c.weight_gradients = WeightGradients::buffers;
  c.entries.push_back({{false, false, true, 256, 1024, 784}, GemmBackend::openblas});
  c.entries.push_back({{true, false, false, 256, 1024, 256}, GemmBackend::onednn});
  c.entries.push_back({{false, true, false, 3, 5, 7}, GemmBackend::eigen});
  const std::string text = c.encode();
  EXPECT_EQ(text, "buffers;NN+b,256,1024,784,openblas;TN,256,1024,256,onednn;NT,3,5,7,eigen");
  const KernelChoice back = KernelChoice::decode(text);
  EXPECT_EQ(back.weight_gradients, WeightGradients::buffers);
  ASSERT_EQ(back.entries.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.entries[i].shape, c.entries[i].shape);
    EXPECT_EQ(back.entries[i].backend, c.entries[i].backend);
  }
  EXPECT_EQ(back.backend_for({false, true, false, 3, 5, 7}), GemmBackend::eigen);
  // Note [Nearest shape]: two dimensions equal, the third nearest; else the built-in kernel.
  EXPECT_EQ(back.backend_for({false, true, false, 3, 5, 8}), GemmBackend::eigen);
  EXPECT_EQ(back.backend_for({false, true, false, 3, 6, 8}), default_gemm_backend());
  EXPECT_EQ(back.backend_for({false, true, true, 3, 5, 7}), default_gemm_backend());
}

TEST(KernelChoiceTest, ShapesOutsideTheTableTakeTheNearestRowCount) {
  KernelChoice c;
  c.entries.push_back({{false, false, true, 256, 1024, 784}, GemmBackend::openblas});
  c.entries.push_back({{false, false, true, 16, 1024, 784}, GemmBackend::eigen});
  c.entries.push_back({{false, false, true, 256, 10, 1024}, GemmBackend::eigen});
  // The last partial batch (m = 200) and an evaluation chunk (m = 4096) of the first layer.
  EXPECT_EQ(c.backend_for({false, false, true, 200, 1024, 784}), GemmBackend::openblas);
  EXPECT_EQ(c.backend_for({false, false, true, 4096, 1024, 784}), GemmBackend::openblas);
  EXPECT_EQ(c.backend_for({false, false, true, 20, 1024, 784}), GemmBackend::eigen);
  // The second layer's products at another row count: its own entry, not the first layer's.
  EXPECT_EQ(c.backend_for({false, false, true, 100, 10, 1024}), GemmBackend::eigen);
  // Weight gradients (TN, rows are k): equal transposes are required, so the built-in kernel.
  EXPECT_EQ(c.backend_for({true, false, false, 784, 1024, 200}), default_gemm_backend());
}

TEST(KernelChoiceTest, MalformedTextIsRefused) {
  const auto message = [](const std::string& text) {
    try {
      KernelChoice::decode(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("sometimes;NN,1,2,3,onednn").find("must start with owner, buffers or auto"),
            std::string::npos);
  EXPECT_NE(message("owner;NN,1,2,x,onednn").find("'NN,1,2,x,onednn' is not a product shape"),
            std::string::npos);
  EXPECT_NE(message("owner;NX,1,2,3,onednn").find("'NX,1,2,3,onednn'"), std::string::npos);
  EXPECT_NE(message("owner;NN,1,2,3,reference").find("'NN,1,2,3,reference'"), std::string::npos);
}

TEST(KernelChoiceTest, AutomaticRunsTheChosenKernel) {
  const std::size_t m = 37, n = 45, k = 29;
  std::vector<float> a(m * k), b(k * n), bias(n, 0.5f);
  Rng rng(3);
  for (float& v : a) v = float(rng.uniform()) - 0.5f;
  for (float& v : b) v = float(rng.uniform()) - 0.5f;
  for (const GemmBackend chosen : tunable_gemm_backends()) {
    KernelChoice c;
    c.entries.push_back({{false, false, false, m, n, k}, chosen});
    c.entries.push_back({{false, false, true, m, n, k}, chosen});
    const GemmContext automatic{GemmBackend::automatic, nullptr, nullptr, &c};
    std::vector<float> want(m * n), got(m * n), want_b(m * n), got_b(m * n);
    gemm<float>(chosen, Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f,
                want.data(), n);
    gemm<float>(automatic, Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(), k, b.data(), n,
                0.0f, got.data(), n);
    EXPECT_EQ(want, got) << gemm_backend_name(chosen);
    gemm_bias<float>(chosen, Transpose::no, Transpose::no, m, n, k, a.data(), k, b.data(), n,
                     bias.data(), want_b.data(), n);
    gemm_bias<float>(automatic, Transpose::no, Transpose::no, m, n, k, a.data(), k, b.data(), n,
                     bias.data(), got_b.data(), n);
    EXPECT_EQ(want_b, got_b) << gemm_backend_name(chosen);
  }
}

TEST(KernelChoiceTest, ShapeRecorderSeesEachAutomaticProductOnce) {
  std::vector<float> a(6, 1.0f), b(6, 1.0f), c(4);
  const detail::ShapeRecorder recorder;
  for (int i = 0; i < 2; ++i)
    gemm<float>(GemmBackend::automatic, Transpose::yes, Transpose::no, 2, 2, 3, 1.0f, a.data(), 2,
                b.data(), 2, 0.0f, c.data(), 2);
  gemm<float>(default_gemm_backend(), Transpose::no, Transpose::no, 2, 2, 3, 1.0f, a.data(), 3,
              b.data(), 2, 0.0f, c.data(), 2);  // a named kernel: not recorded
  const auto shapes = recorder.shapes();
  ASSERT_EQ(shapes.size(), 1u);
  EXPECT_EQ(shapes[0].shape.text(), "TN 2x2x3");
  EXPECT_EQ(shapes[0].lda, 2u);
}

TEST(KernelChoiceTest, CheckpointCarriesTheChoice) {
  Model<float> model(ModelSpec::mlp({3, 4, 2}, Activation::tanh, Activation::softmax));
  model.initialize(3);
  const std::string text =
      std::string("owner;NN+b,4,4,3,") + gemm_backend_name(default_gemm_backend());
  TrainConfig config;
  config.batch_size = 4;
  config.gemm = GemmBackend::automatic;
  config.kernels = std::make_shared<KernelChoice>(KernelChoice::decode(text));
  config.plan.weight_gradients =
      WeightGradients::buffers;  // the engine's, recorded over the choice's
  const Trainer trainer(model, config);
  Checkpoint c = trainer.checkpoint();
  const std::string recorded = "buffers" + text.substr(5);
  EXPECT_EQ(c.kernels, recorded);
  EXPECT_EQ(decode_checkpoint(encode_checkpoint(c), "memory").kernels, recorded);
  TrainConfig resumed;
  resumed.gemm = GemmBackend::automatic;
  apply_checkpoint_settings(c, resumed);
  ASSERT_TRUE(resumed.kernels);
  EXPECT_EQ(resumed.kernels->origin, "checkpoint");
  EXPECT_EQ(resumed.plan.weight_gradients, WeightGradients::buffers);
  TrainConfig named;  // a named kernel ignores the recorded choice
  named.gemm = default_gemm_backend();
  apply_checkpoint_settings(c, named);
  EXPECT_FALSE(named.kernels);
  c.kernels = "owner;NN+b,4,4,3,nothing";
  EXPECT_THROW(decode_checkpoint(encode_checkpoint(c), "memory"), Error);
}

/// Sets an environment variable for one scope and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    if (old) old_ = old;
    had_ = old != nullptr;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// Note [Wisdom in memory]: a second resolution in the process reuses the first while the wisdom
// file is unchanged, and follows the file once it changes.
TEST(KernelChoiceTest, AProcessRemembersItsChoiceUntilTheFileChanges) {
  const std::string dir = ::testing::TempDir() + "dptrain-wisdom-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  const ScopedEnv cache("XDG_CACHE_HOME", dir);
  const ScopedEnv mode("DPTRAIN_TUNING", "cache");
  const ModelSpec spec = ModelSpec::mlp({6, 12, 3}, Activation::relu, Activation::softmax);
  EngineConfig config;
  config.batch_size = 16;
  config.gemm = GemmBackend::automatic;
  config.plan.weight_gradients = WeightGradients::buffers;
  const KernelChoice first = choose_kernels(spec, config);
  EXPECT_EQ(first.origin, "measured");
  ASSERT_FALSE(first.entries.empty());
  const KernelChoice second = choose_kernels(spec, config);
  EXPECT_EQ(second.origin, "cache");
  EXPECT_EQ(second.encode(), first.encode());
  // Another process (or `dptrain tune`) rewrites the file: every shape now says eigen.
  const std::string path = wisdom_path();
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  in.close();
  std::string rewritten, line;
  std::istringstream lines(text.str());
  while (std::getline(lines, line)) {
    if (line.rfind("shape ", 0) == 0) line = "shape eigen" + line.substr(line.find(' ', 6));
    rewritten += line + "\n";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a later modification time
  std::ofstream(path) << rewritten;
  const KernelChoice third = choose_kernels(spec, config);
  for (const KernelChoice::Entry& e : third.entries) EXPECT_EQ(e.backend, GemmBackend::eigen);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dptrain
