// ONNX export through the library: Trainer::export_onnx and export_onnx write what encode_onnx
// encodes, refuse what checkpoints refuse, and hold the weights at 4 bytes per parameter. What
// the graphs compute is checked by other runtimes in tests/onnx_export_test.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "dptrain/checkpoint.hpp"
#include "dptrain/onnx_export.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("dptrain-onnx-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

TEST(OnnxExport, TrainerWritesTheCheckpointsGraphWithItsNormalisers) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without libonnx-dev";
  Dataset d = make_synthetic("blobs8", 4);
  const Normalizer normalizer = Normalizer::fit(Normalization::standard, d);
  normalizer.apply(d);
  Model<float> m(ModelSpec::mlp({8, 16, 1}, Activation::tanh, Activation::sigmoid));
  m.initialize(2);
  TrainConfig c;
  c.loss = Loss::bce;
  c.epochs = 2;
  Trainer t(m, c);
  t.fit(d);
  const std::string path = temp_path("trainer.onnx");
  t.export_onnx(path, normalizer);
  Checkpoint expected = t.checkpoint();
  expected.normalizer = normalizer;
  EXPECT_EQ(read_file(path), encode_onnx(expected));
  EXPECT_NE(encode_onnx(expected), encode_onnx(t.checkpoint()));  // the Sub/Mul nodes
  std::remove(path.c_str());
}

TEST(OnnxExport, FourBytesPerParameter) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without libonnx-dev";
  Model<float> m(ModelSpec::mlp({784, 256, 128, 10}, Activation::relu, Activation::softmax));
  m.initialize(1);
  Checkpoint c;
  c.spec = m.spec();
  c.parameters.assign(m.parameters().begin(), m.parameters().end());
  c.classes = 10;
  const double bytes = double(encode_onnx(c).size()), params = double(m.trainable_count());
  EXPECT_GE(bytes, 4 * params);
  EXPECT_LE(bytes, 4 * params * 1.01);
}

TEST(OnnxExport, RefusalsWriteNothing) {
  Checkpoint c;
  c.spec = ModelSpec::mlp({2, 3, 3}, Activation::relu, Activation::softmax);
  c.parameters.assign(Model<float>(c.spec).parameter_count(), 0.5f);
  c.classes = 3;
  if (!onnx_export_available()) {
    EXPECT_THROW(
        {
          try {
            encode_onnx(c);
          } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("without ONNX support"), std::string::npos);
            throw;
          }
        },
        Error);
    return;
  }
  EXPECT_THROW(export_onnx(c, "/dev/fd/1"), Error);
  const std::string missing = temp_path("nodir") + "/m.onnx";
  EXPECT_THROW(export_onnx(c, missing), Error);
  c.schema.class_names = {"a", "b"};  // two names for three classes
  const std::string path = temp_path("names.onnx");
  try {
    export_onnx(c, path);
    ADD_FAILURE() << "two class names for three classes exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("names 2 classes but its model has 3"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace dptrain
