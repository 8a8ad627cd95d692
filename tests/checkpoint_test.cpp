// Checkpoints: round trip, every kind of damage, and exact resume.
#include <gtest/gtest.h>

#include "dptrain/checkpoint.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

Checkpoint sample_checkpoint() {
  Model<float> m(ModelSpec::mlp({3, 4, 2}, Activation::tanh, Activation::softmax, 0.1));
  m.initialize(3);
  TrainConfig c;
  c.loss = Loss::ce;
  c.optimizer.kind = OptimizerKind::adam;
  Trainer t(m, c);
  Checkpoint k = t.checkpoint();
  k.normalizer = {Normalization::standard, {1, 2, 3}, {0.5f, 0.25f, 1}};
  k.classes = 2;
  k.data = "csv:x.csv";
  return k;
}

std::string decode_error(const std::string& bytes) {
  try {
    decode_checkpoint(bytes, "m.dpt");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Checkpoint, RoundTripKeepsEverything) {
  const Checkpoint a = sample_checkpoint();
  const Checkpoint b = decode_checkpoint(encode_checkpoint(a), "m.dpt");
  EXPECT_EQ(b.spec.describe(), a.spec.describe());
  EXPECT_EQ(b.parameters, a.parameters);
  EXPECT_EQ(b.state0.size(), a.parameters.size());
  EXPECT_EQ(b.normalizer.scale, a.normalizer.scale);
  EXPECT_EQ(b.optimizer.kind, OptimizerKind::adam);
  EXPECT_EQ(b.data, "csv:x.csv");
  EXPECT_EQ(encode_checkpoint(b), encode_checkpoint(a));
}

TEST(Checkpoint, DamageIsReportedClearly) {
  const std::string good = encode_checkpoint(sample_checkpoint());
  EXPECT_NE(decode_error("").find("not a dptrain checkpoint"), std::string::npos);
  EXPECT_NE(decode_error("GIF89a........").find("not a dptrain checkpoint"), std::string::npos);
  for (std::size_t cut : {std::size_t{9}, std::size_t{20}, std::size_t{100}, good.size() - 1})
    EXPECT_NE(decode_error(good.substr(0, cut)).find("truncated"), std::string::npos) << cut;
  std::string flipped = good;
  flipped[good.size() - 9] ^= 0x01;  // inside the last float
  EXPECT_NE(decode_error(flipped).find("CRC-32 mismatch"), std::string::npos);
  std::string version = good;
  version[8] = 9;
  EXPECT_NE(decode_error(version).find("format version 9"), std::string::npos);
}

TEST(Checkpoint, ResumeEqualsUninterruptedEvenWithOtherThreadCount) {
  const Dataset d = make_synthetic("blobs8", 1);
  const ModelSpec spec = ModelSpec::mlp({8, 32, 2}, Activation::relu, Activation::softmax, 0.2);
  auto config = [](std::size_t threads) {
    TrainConfig c;
    c.loss = Loss::ce;
    c.batch_size = 40;
    c.epochs = 4;
    c.threads = threads;
    c.deterministic = true;
    c.min_flops_per_worker = 0;
    c.schedule.kind = ScheduleKind::cosine;
    return c;
  };
  Model<float> straight(spec);
  straight.initialize(9);
  {
    Trainer t(straight, config(1));
    for (int e = 0; e < 4; ++e) t.train_epoch(d);
  }
  Model<float> first(spec);
  first.initialize(9);
  Checkpoint k;
  {
    Trainer t(first, config(2));
    for (int e = 0; e < 2; ++e) t.train_epoch(d);
    k = decode_checkpoint(encode_checkpoint(t.checkpoint()), "k");
  }
  Model<float> resumed = model_from_checkpoint(k);
  Trainer t(resumed, config(3));
  t.restore(k);
  EXPECT_EQ(t.epochs_done(), 2u);
  for (int e = 0; e < 2; ++e) t.train_epoch(d);
  EXPECT_EQ(params_hash<float>(resumed.parameters()), params_hash<float>(straight.parameters()));
}

TEST(Checkpoint, RecordsTheClassesOfTheTrainingData) {
  // A checkpoint made through the C++ API (not only the CLI's) says it is a classifier, so
  // predict and --resume treat it as one.
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(ModelSpec::mlp({8, 6, 1}, Activation::relu, Activation::sigmoid));
  m.initialize(1);
  TrainConfig c;
  c.loss = Loss::bce;
  c.epochs = 1;
  Trainer t(m, c);
  t.fit(d);
  const Checkpoint saved = decode_checkpoint(encode_checkpoint(t.checkpoint()), "mem");
  EXPECT_EQ(saved.classes, 2u);
  Model<float> again(m.spec());
  Trainer restored(again, c);
  restored.restore(saved);
  EXPECT_EQ(restored.checkpoint().classes, 2u);
}

}  // namespace
}  // namespace dptrain
