// Checkpoints: round trip, every kind of damage, and exact resume.
#include <gtest/gtest.h>

#include <functional>
#include <regex>

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

/// A trained classifier's checkpoint with `forge` applied, encoded (with a CRC-32 computed as
/// the format does), and decode's message for it.
std::string forged_error(const std::function<void(Checkpoint&)>& forge) {
  Checkpoint k = sample_checkpoint();
  k.step = 3;
  k.epochs_done = 1;
  forge(k);
  return decode_error(encode_checkpoint(k));
}

// Note [Checkpoint meaning]: a recomputed CRC does not make a forged file a model.
TEST(Checkpoint, ForgedFieldsAreRefusedNamingTheField) {
  EXPECT_EQ(forged_error([](Checkpoint&) {}), "no error");
  // Extra hidden units that the layout's padding absorbs: the buffer has the right length.
  EXPECT_EQ(forged_error([](Checkpoint& k) {
              k.spec.layers[0].units = 5;
              ASSERT_EQ(Model<float>(k.spec).parameter_count(), k.parameters.size());
            }),
            "checkpoint 'm.dpt': its layer 1 has 5 units, but the parameters are laid out for 4 "
            "(the weights the extra units would add are the padding zeros of the narrower "
            "layout): the width was edited");
  EXPECT_EQ(forged_error([](Checkpoint& k) { k.state1[4] = -1; }),
            "checkpoint 'm.dpt': optimizer state 1 value 4 is -1, but adam keeps squared "
            "gradients there (never negative)");
  // Fewer: values the model trained land in the narrower layout's padding.
  EXPECT_NE(forged_error([](Checkpoint& k) {
              k.spec.layers[0].units = 3;
              ASSERT_EQ(Model<float>(k.spec).parameter_count(), k.parameters.size());
            }).find("checkpoint 'm.dpt': parameter value 9 ("),
            std::string::npos);
  const std::pair<std::function<void(Checkpoint&)>, std::string> cases[] = {
      {[](Checkpoint& k) { k.step = std::uint64_t(1) << 63; },
       "'step' 9223372036854775808 is above 2^53, more optimizer steps than any run takes"},
      {[](Checkpoint& k) { k.step = 0; },
       "'step' 0 is below the 1 finished epochs ('epochs_done') plus the 0 steps of the current "
       "one ('epoch_progress.steps'): every epoch takes a step"},
      {[](Checkpoint& k) { k.spec.layers.back().activation = Activation::sigmoid; },
       "'loss' does not fit the output layer: loss ce needs a softmax output layer, not sigmoid"},
      {[](Checkpoint& k) { k.normalizer.scale[1] = 0; },
       "'normalizer.scale[1]' is 0; a scale (1 / the feature's spread) must be finite and > 0"},
      {[](Checkpoint& k) { k.normalizer.scale[0] = -2; },
       "'normalizer.scale[0]' is -2; a scale (1 / the feature's spread) must be finite and > 0"},
      {[](Checkpoint& k) { k.classes = 3; }, "'classes' 3 does not fit the output layer's 2 units"},
      {[](Checkpoint& k) { k.classes = 1; },
       "'classes' 1: a classifier has at least 2 classes (0: regression)"},
      {[](Checkpoint& k) { k.classes = 0; },
       "'classes' 0 (regression) does not fit loss ce, which trains on class labels"},
      {[](Checkpoint& k) { k.schema.task = Task::regression; },
       "'schema.task' is regression but 'classes' 2 means classification"},
      {[](Checkpoint& k) {
         k.target_normalizer = {{0, 0}, {1, 1}};
       },
       "'target_normalizer' standardises regression targets, but 'classes' 2 means "
       "classification"},
      {[](Checkpoint& k) { k.epochs_since_best = 2; },
       "'epochs_since_best' 2 is above 'epochs_done' 1"},
      {[](Checkpoint& k) { k.best_validation_loss = -5; },
       "'best_validation_loss' -5 must be finite and >= 0, or -1 (no validation yet)"},
  };
  for (const auto& [forge, message] : cases)
    EXPECT_EQ(forged_error(forge), "checkpoint 'm.dpt' has invalid metadata: " + message);
  // Fields only the metadata text can hold.
  const std::string good = encode_checkpoint(sample_checkpoint());
  const std::string init = test::with_metadata(good, [](std::string meta) {
    return std::regex_replace(meta, std::regex(R"("init":"[a-z]+")"), R"("init":"lecun")");
  });
  EXPECT_EQ(decode_error(init),
            "checkpoint 'm.dpt' has invalid metadata: 'init': unknown initialisation 'lecun' "
            "(expected auto, he or glorot)");
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

TEST(Checkpoint, RecordsTheShuffleAndOlderFilesKeepTheRunsOwn) {
  // Note [Run settings]: the shuffle is recorded; a file written before it was (the keys
  // removed, as today's older format has them) loads, and a resume keeps the run's own.
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(ModelSpec::mlp({8, 6, 1}, Activation::relu, Activation::sigmoid));
  m.initialize(1);
  TrainConfig c;
  c.loss = Loss::bce;
  c.epochs = 1;
  c.shuffle_mode = ShuffleMode::window;
  c.shuffle_block_rows = 10;
  Trainer t(m, c);
  t.fit(d);
  const std::string bytes = encode_checkpoint(t.checkpoint());
  const Checkpoint saved = decode_checkpoint(bytes, "mem");
  EXPECT_EQ(saved.shuffle_mode, ShuffleMode::window);
  EXPECT_EQ(saved.shuffle_block_rows, 10u);
  EXPECT_TRUE(saved.unrecorded.empty());
  TrainConfig resumed;
  apply_checkpoint_settings(saved, resumed);
  EXPECT_EQ(resumed.shuffle_mode, ShuffleMode::window);
  EXPECT_TRUE(differences(saved, resumed).empty());
  resumed.optimizer.learning_rate = 0.5;
  const auto diff = differences(saved, resumed);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0].key, "optimizer/learning_rate");
  EXPECT_EQ(diff[0].flag, "lr");
  EXPECT_EQ(diff[0].given, "0.5");
  EXPECT_EQ(diff[0].recorded, "0.001");

  const std::string old = test::with_metadata(bytes, [](std::string meta) {
    for (const std::string key : {"shuffle_block_rows", "shuffle_mode", "shuffle"})
      meta = std::regex_replace(meta, std::regex(",?\"" + key + "\":[^,}]*"), "");
    return meta;
  });
  const Checkpoint older = decode_checkpoint(old, "old");
  EXPECT_EQ(older.unrecorded,
            (std::vector<std::string>{"shuffle", "shuffle_mode", "shuffle_block_rows"}));
  EXPECT_EQ(older.seed, saved.seed);
  TrainConfig own;
  own.shuffle_mode = ShuffleMode::window;
  apply_checkpoint_settings(older, own);
  EXPECT_EQ(own.shuffle_mode, ShuffleMode::window);
  EXPECT_EQ(own.loss, Loss::bce);
}

}  // namespace
}  // namespace dptrain
