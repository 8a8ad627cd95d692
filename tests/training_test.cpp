// Convergence on the source articles' workloads and reproducibility of whole runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <string>

#include "dptrain/checkpoint.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

struct Outcome {
  double test_metric;
  std::uint64_t hash;
};

Outcome train(const ModelSpec& spec, TrainConfig config, const Dataset& train_set,
              const Dataset& test_set) {
  Model<float> model(spec);
  model.initialize(config.seed);
  Trainer trainer(model, config);
  for (std::size_t e = 0; e < config.epochs; ++e) trainer.train_epoch(train_set);
  return {trainer.evaluate(test_set).metric(), params_hash<float>(model.parameters())};
}

TEST(Convergence, XorReachesFullAccuracy) {
  TrainConfig c;
  c.loss = Loss::bce;
  c.optimizer.kind = OptimizerKind::sgd;
  c.optimizer.learning_rate = 0.5;
  c.batch_size = 4;
  c.epochs = 3000;
  const Dataset xor_set = make_synthetic("xor", 0);
  const Outcome r = train(ModelSpec::mlp({2, 3, 1}, Activation::sigmoid, Activation::sigmoid), c,
                          xor_set, xor_set);
  EXPECT_EQ(r.test_metric, 1.0);
}

TEST(Convergence, SquareRegressionMseBelow1e3) {
  TrainConfig c;
  c.loss = Loss::mse;
  c.optimizer.learning_rate = 0.01;
  c.batch_size = 10;
  c.epochs = 300;
  const Outcome r = train(ModelSpec::mlp({1, 10, 1}, Activation::relu, Activation::identity), c,
                          make_synthetic("square", 1), make_synthetic("square", 2));
  EXPECT_LT(r.test_metric, 1e-3);
}

TEST(Convergence, Blobs8Above90Percent) {
  TrainConfig c;
  c.loss = Loss::bce;
  c.batch_size = 32;
  c.epochs = 30;
  const Outcome r = train(ModelSpec::mlp({8, 10, 8, 1}, Activation::relu, Activation::sigmoid), c,
                          make_synthetic("blobs8", 1), make_synthetic("blobs8", 2));
  EXPECT_GT(r.test_metric, 0.90);
}

TEST(Convergence, LinearRegressionWithMomentumAndCosine) {
  TrainConfig c;
  c.loss = Loss::mse;
  c.optimizer.kind = OptimizerKind::nesterov;
  c.optimizer.learning_rate = 0.05;
  c.schedule.kind = ScheduleKind::cosine;
  c.batch_size = 50;
  c.epochs = 40;
  const Outcome r = train(ModelSpec::mlp({8, 1}, Activation::relu, Activation::identity), c,
                          make_synthetic("linear", 1), make_synthetic("linear", 2));
  EXPECT_LT(r.test_metric, 0.02);  // noise variance is 0.01
}

TEST(Convergence, FashionMnistSubsetAbove80Percent) {
  if (!std::filesystem::exists(fashion_mnist_dir() + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  const Dataset train_set = load_dataset("fashion-mnist", 0).head(12000);
  const Dataset test_set = load_dataset("fashion-mnist:test", 0).head(2000);
  TrainConfig c;
  c.loss = Loss::ce;
  c.batch_size = 128;
  c.epochs = 3;
  c.threads = 2;
  const Outcome r = train(ModelSpec::mlp({784, 128, 10}, Activation::relu, Activation::softmax), c,
                          train_set, test_set);
  EXPECT_GT(r.test_metric, 0.80);
}

TEST(Reproducibility, SameSeedSameBitsDifferentSeedDifferentBits) {
  TrainConfig c;
  c.loss = Loss::ce;
  c.batch_size = 16;
  c.epochs = 2;
  const ModelSpec spec = ModelSpec::mlp({8, 16, 2}, Activation::tanh, Activation::softmax, 0.2);
  const Dataset d = make_synthetic("blobs8", 1);
  const Outcome a = train(spec, c, d, d), b = train(spec, c, d, d);
  EXPECT_EQ(a.hash, b.hash);
  c.seed = 43;
  EXPECT_NE(train(spec, c, d, d).hash, a.hash);
}

TEST(Trainer, LastPartialBatchIsTrained) {
  TrainConfig c;
  c.loss = Loss::mse;
  c.batch_size = 4;
  c.shuffle = false;
  Dataset d = make_synthetic("square", 1).head(10);
  Model<float> model(ModelSpec::mlp({1, 4, 1}, Activation::relu, Activation::identity));
  model.initialize(1);
  Trainer t(model, c);
  const EpochResult e = t.train_epoch(d);
  EXPECT_EQ(e.steps, 3u);  // 4 + 4 + 2
  EXPECT_EQ(t.step_count(), 3u);
}

TEST(Trainer, RejectsDataThatDoesNotFitTheModel) {
  TrainConfig c;
  c.loss = Loss::ce;
  Model<float> model(ModelSpec::mlp({3, 4, 2}, Activation::relu, Activation::softmax));
  Trainer t(model, c);
  try {
    t.train_epoch(make_synthetic("xor", 0));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 features but the model's input layer takes 3"),
              std::string::npos)
        << e.what();
  }
  TrainConfig bad;
  bad.batch_size = 0;
  EXPECT_THROW(Trainer(model, bad), Error);
}

}  // namespace
}  // namespace dptrain

namespace dptrain {
namespace {

/// Serves a Dataset in contiguous batches, as an application's own data source would.
class SlicedSource : public BatchSource {
 public:
  explicit SlicedSource(const Dataset& d) : data_(d) {}
  void start_epoch(std::size_t) override { next_ = 0; }
  bool next_batch(Dataset& batch, std::size_t max_rows) override {
    if (next_ >= data_.rows) return false;
    const std::size_t n = std::min(max_rows, data_.rows - next_);
    batch.source = "sliced";
    batch.rows = n;
    batch.features = data_.features;
    batch.classes = data_.classes;
    batch.x.assign(data_.x.begin() + std::ptrdiff_t(next_ * data_.features),
                   data_.x.begin() + std::ptrdiff_t((next_ + n) * data_.features));
    batch.labels.assign(data_.labels.begin() + std::ptrdiff_t(next_),
                        data_.labels.begin() + std::ptrdiff_t(next_ + n));
    next_ += n;
    return true;
  }

 private:
  const Dataset& data_;
  std::size_t next_ = 0;
};

TEST(BatchSource, TrainsExactlyLikeTheSameBatchesFromADataset) {
  const Dataset d = make_synthetic("blobs8", 1);
  const ModelSpec spec = ModelSpec::mlp({8, 16, 2}, Activation::relu, Activation::softmax);
  TrainConfig c;
  c.loss = Loss::ce;
  c.batch_size = 50;
  c.shuffle = false;  // the Dataset path then takes contiguous batches too
  Model<float> a(spec), b(spec);
  a.initialize(4);
  b.initialize(4);
  Trainer ta(a, c), tb(b, c);
  SlicedSource source(d);
  for (int e = 0; e < 3; ++e) {
    const EpochResult ra = ta.train_epoch(d), rb = tb.train_epoch(source);
    EXPECT_EQ(ra.steps, rb.steps);
    EXPECT_DOUBLE_EQ(ra.train_loss, rb.train_loss);
  }
  EXPECT_EQ(params_hash<float>(a.parameters()), params_hash<float>(b.parameters()));
}

TEST(BatchSource, RejectsBatchesThatDoNotFit) {
  class Wide : public BatchSource {
    bool next_batch(Dataset& batch, std::size_t) override {
      batch = make_synthetic("xor", 0);
      return true;
    }
  } wide;
  Model<float> m(ModelSpec::mlp({8, 4, 2}, Activation::relu, Activation::softmax));
  TrainConfig c;
  c.loss = Loss::ce;
  Trainer t(m, c);
  EXPECT_THROW(t.train_epoch(wide), Error);
}

TEST(Fit, CallbackStopsTraining) {
  const Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(ModelSpec::mlp({8, 8, 2}, Activation::relu, Activation::softmax));
  TrainConfig c;
  c.loss = Loss::ce;
  c.epochs = 10;
  Trainer t(m, c);
  std::size_t seen = 0;
  const auto results = t.fit(d, [&](const EpochResult& r) {
    seen = r.epoch;
    return r.epoch < 3;  // request a stop after epoch 3
  });
  EXPECT_EQ(results.size(), 3u);
  EXPECT_EQ(seen, 3u);
  EXPECT_EQ(t.epochs_done(), 3u);
  EXPECT_EQ(t.fit(d).size(), 7u);  // continues to config.epochs
}

TEST(Trainer, LabelsOutsideTheClassesAreRefusedNotTrainedOn) {
  // Labels the output layer has no unit for would index past it: the library refuses them
  // itself (not only the CLI), naming the row.
  Dataset d = make_synthetic("blobs8", 1);
  Model<float> m(ModelSpec::mlp({8, 6, 2}, Activation::relu, Activation::softmax));
  m.initialize(1);
  TrainConfig c;
  c.epochs = 1;
  Trainer t(m, c);
  for (std::int32_t bad : {7, 100000000, -5}) {
    d.labels[3] = bad;
    try {
      t.fit(d);
      FAIL() << "label " << bad << " was trained on";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("row 4 has label " + std::to_string(bad) +
                                           ", outside its classes [0, 2)"),
                std::string::npos)
          << e.what();
    }
    EXPECT_THROW(t.evaluate(d), Error);
  }
  EXPECT_EQ(t.step_count(), 0u);
}

/// Trains one epoch of xor, lets `spoil` change the checkpoint it restores, and returns the
/// message of the divergence the second epoch ends with ("" if none).
template <class Spoil>
std::string divergence_after(Spoil spoil) {
  TrainConfig c;
  c.loss = Loss::bce;
  c.batch_size = 4;  // one step per epoch
  c.epochs = 5;
  const Dataset xor_set = make_synthetic("xor", 0);
  Model<float> model(ModelSpec::mlp({2, 3, 1}, Activation::sigmoid, Activation::sigmoid));
  model.initialize(c.seed);
  Trainer trainer(model, c);
  trainer.train_epoch(xor_set);
  EXPECT_NO_THROW(trainer.check_not_diverged());
  Checkpoint checkpoint = trainer.checkpoint();
  spoil(checkpoint);
  trainer.restore(checkpoint);
  try {
    trainer.train_epoch(xor_set);
  } catch (const Error& e) {
    EXPECT_EQ(e.topic(), ErrorTopic::divergence);
    EXPECT_EQ(trainer.epochs_done(), 1u);  // the diverged epoch does not count
    return e.what();
  }
  return "";
}

// Note [Exploded parameters]: steps whose losses are all finite can still leave parameters
// beyond any usable model, or an infinite optimizer state that freezes them; the epoch stops
// instead of ending, so no checkpoint of it is taken, and save_checkpoint refuses one anyway.
TEST(Divergence, ExplodedParametersOrOptimizerStateEndTheRun) {
  const std::string exploded = divergence_after([](Checkpoint& c) { c.parameters[0] = 1e20f; });
  EXPECT_EQ(exploded.rfind("training diverged at epoch 2, step 1: parameter 0 is 1e+20 (beyond "
                           "the limit of 1e+15: exploded)",
                           0),
            0u)
      << exploded;
  const std::string state =
      divergence_after([](Checkpoint& c) { c.state1[0] = std::numeric_limits<float>::infinity(); });
  EXPECT_EQ(state.rfind("training diverged at epoch 2, step 1: the optimizer state of parameter 0 "
                        "is infinite",
                        0),
            0u)
      << state;
  EXPECT_EQ(divergence_after([](Checkpoint&) {}), "");

  Checkpoint c;
  c.spec = ModelSpec::mlp({2, 1}, Activation::relu, Activation::sigmoid);
  c.parameters = {0.5f, -2e15f, 0.0f};
  try {
    save_checkpoint("unused.dpt", c);
    FAIL() << "a checkpoint with an exploded parameter was written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds an exploded parameter (value 1 is -2e+15"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dptrain
