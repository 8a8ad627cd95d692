// Early stopping as a library feature: Trainer::fit with a validation set and patience stops
// after `patience` epochs without a better validation loss and restores the best weights; the
// state survives a checkpoint.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace dptrain {
namespace {

struct Sets {
  Dataset train, validation;
};

Sets overfitting_setup() {
  // A small, noisy training set and a big model: the validation loss turns up within epochs.
  Dataset all = make_synthetic("blobs8", 9);
  auto [train, val] = split_validation(all, 0.5, 1);
  return {train.head(48), val};
}

TrainConfig config() {
  TrainConfig c;
  c.loss = Loss::bce;
  c.epochs = 200;
  c.batch_size = 8;
  c.optimizer.learning_rate = 0.01;
  return c;
}

ModelSpec big() {
  return ModelSpec::mlp({8, 128, 128, 1}, Activation::relu, Activation::sigmoid);
}

TEST(EarlyStopping, StopsAfterPatienceAndRestoresTheBestWeights) {
  const Sets s = overfitting_setup();
  Model<float> m(big());
  m.initialize(1);
  Trainer t(m, config());
  std::vector<std::vector<float>> weights;  // after each epoch
  std::vector<EpochReport> reports;
  FitOptions o;
  o.validation = &s.validation;
  o.patience = 3;
  o.on_epoch_end = [&](const EpochReport& r) {
    weights.emplace_back(m.parameters().begin(), m.parameters().end());
    reports.push_back(r);
    return true;
  };
  const FitResult result = t.fit(s.train, o);
  ASSERT_TRUE(result.stopped_early) << "trained " << result.epochs.size() << " epochs";
  ASSERT_TRUE(result.restored_best);
  ASSERT_LT(result.epochs.size(), 200u);
  // The last three epochs did not improve; the one before was the best, and its weights are back.
  const std::size_t n = reports.size();
  ASSERT_GE(n, 4u);
  EXPECT_TRUE(reports[n - 1].stopping);
  for (std::size_t i = n - 3; i < n; ++i) EXPECT_FALSE(reports[i].improved) << i;
  EXPECT_TRUE(reports[n - 4].improved);
  double best = 1e300;
  for (const auto& r : reports) best = std::min(best, r.validation->loss);
  EXPECT_EQ(result.best_validation_loss, best);
  EXPECT_EQ(reports[n - 4].validation->loss, best);
  EXPECT_EQ(std::vector<float>(m.parameters().begin(), m.parameters().end()), weights[n - 4]);
}

TEST(EarlyStopping, CallbackCanStopAndPatienceNeedsValidation) {
  const Sets s = overfitting_setup();
  Model<float> m(big());
  m.initialize(1);
  Trainer t(m, config());
  FitOptions o;
  o.on_epoch_end = [](const EpochReport& r) { return r.train.epoch < 2; };
  const FitResult result = t.fit(s.train, o);
  EXPECT_EQ(result.epochs.size(), 2u);
  EXPECT_FALSE(result.stopped_early);
  FitOptions bad;
  bad.patience = 2;
  EXPECT_THROW(t.fit(s.train, bad), Error);
}

TEST(EarlyStopping, StateTravelsInTheCheckpoint) {
  const Sets s = overfitting_setup();
  Model<float> m(big());
  m.initialize(1);
  TrainConfig c = config();
  c.epochs = 3;
  Trainer t(m, c);
  FitOptions o;
  o.validation = &s.validation;
  o.patience = 50;
  t.fit(s.train, o);
  const Checkpoint saved = t.checkpoint();
  EXPECT_GE(saved.best_validation_loss, 0.0);
  Model<float> m2(big());
  Trainer t2(m2, c);
  t2.restore(saved);
  const Checkpoint again = t2.checkpoint();
  EXPECT_EQ(again.best_validation_loss, saved.best_validation_loss);
  EXPECT_EQ(again.epochs_since_best, saved.epochs_since_best);
  EXPECT_EQ(again.epochs_done, 3u);
}

}  // namespace
}  // namespace dptrain
