// Limits on sizes from flags and files (limits.hpp) and the finiteness of saved and loaded
// models: absurd values are a dptrain::Error naming the setting before anything is allocated.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "test_util.hpp"

namespace dptrain {
namespace {

template <class F>
std::string error_of(F&& f, ErrorTopic* topic = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (topic) *topic = e.topic();
    return e.what();
  }
  return "";
}

TEST(Limits, AbsurdModelSizesAreRefusedBeforeAllocation) {
  ErrorTopic topic = ErrorTopic::none;
  std::string e = error_of(
      [] {
        ModelSpec::mlp({2, 99999999999ull, 1}, Activation::relu, Activation::sigmoid).validate();
      },
      &topic);
  EXPECT_NE(e.find("layer 1 width 99999999999 is above the limit"), std::string::npos) << e;
  EXPECT_EQ(topic, ErrorTopic::layer_widths);
  e = error_of([] {
    Model<float> m(ModelSpec::mlp({2, 1000000, 1000000, 1}, Activation::relu, Activation::sigmoid));
  });
  EXPECT_NE(e.find("parameters needs about"), std::string::npos) << e;
}

TEST(Limits, AbsurdEngineSettingsNameTheirSetting) {
  EngineConfig c;
  c.batch_size = std::size_t(1) << 40;
  ErrorTopic topic = ErrorTopic::none;
  EXPECT_NE(error_of([&] { c.validate(); }, &topic).find("batch size must be 1 to"),
            std::string::npos);
  EXPECT_EQ(topic, ErrorTopic::batch_size);
  c = {};
  c.deterministic = true;
  c.micro_batches = 1000000000;
  EXPECT_NE(error_of([&] { c.validate(); }, &topic).find("micro-batches must be 1 to"),
            std::string::npos);
  EXPECT_EQ(topic, ErrorTopic::micro_batches);
  c = {};
  c.threads = 5000;
  EXPECT_NE(error_of([&] { c.validate(); }, &topic).find("threads must be 1 to"),
            std::string::npos);
  // Valid settings whose memory the machine lacks: 60000 buffers of 9 M values.
  Model<float> m(ModelSpec::mlp({8, 3000, 3000, 1}, Activation::relu, Activation::sigmoid));
  EngineConfig big;
  big.loss = Loss::bce;
  big.deterministic = true;
  big.micro_batches = 60000;
  big.batch_size = 60000;
  const std::string e = error_of([&] { Engine engine(m, big); }, &topic);
  EXPECT_NE(e.find("more than this machine's"), std::string::npos) << e;
  EXPECT_EQ(topic, ErrorTopic::micro_batches);
}

Checkpoint small_checkpoint() {
  Model<float> m(ModelSpec::mlp({2, 3, 1}, Activation::tanh, Activation::sigmoid));
  m.initialize(1);
  TrainConfig c;
  c.loss = Loss::bce;
  Trainer t(m, c);
  return t.checkpoint();
}

TEST(Limits, NonFiniteModelsAreNeitherSavedNorLoaded) {
  Checkpoint c = small_checkpoint();
  c.parameters[2] = std::nanf("");
  const std::string path = ::testing::TempDir() + "/nan.dpt";
  std::string e = error_of([&] { save_checkpoint(path, c); });
  EXPECT_NE(e.find("non-finite parameter (value 2 is NaN)"), std::string::npos) << e;
  // A file written by other means (here: encoded directly) is refused when read.
  e = error_of([&] { decode_checkpoint(encode_checkpoint(c), "nan.dpt"); });
  EXPECT_NE(e.find("checkpoint 'nan.dpt' holds a non-finite parameter"), std::string::npos) << e;
  c = small_checkpoint();
  if (!c.state0.empty()) {
    c.state0[0] = INFINITY;
    e = error_of([&] { decode_checkpoint(encode_checkpoint(c), "inf.dpt"); });
    EXPECT_NE(e.find("non-finite optimizer state (value 0 is infinite)"), std::string::npos) << e;
  }
}

TEST(Limits, CheckpointSizesAreChecked) {
  Checkpoint c = small_checkpoint();
  c.batch_size = std::size_t(1) << 62;
  const std::string e = error_of([&] { decode_checkpoint(encode_checkpoint(c), "huge.dpt"); });
  EXPECT_NE(e.find("checkpoint 'huge.dpt' has invalid metadata: batch_size"), std::string::npos)
      << e;
}

}  // namespace
}  // namespace dptrain
