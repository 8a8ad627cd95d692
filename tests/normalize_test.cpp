// Feature and target normalisation: fitted on the training data only, then applied to any data;
// target standardisation undone (or folded into the model) and stored in checkpoints.
#include <gtest/gtest.h>

#include <cmath>

#include "dptrain/checkpoint.hpp"
#include "dptrain/error.hpp"
#include "dptrain/inference.hpp"
#include "dptrain/normalize.hpp"
#include "dptrain/trainer.hpp"

namespace dptrain {
namespace {

TEST(Normalizer, StandardAndMinmaxFittedOnTrainOnly) {
  Dataset train;
  train.source = "t";
  train.rows = 4;
  train.features = 2;
  train.x = {0, 5, 2, 5, 4, 5, 6, 5};  // feature 2 is constant
  const Normalizer s = Normalizer::fit(Normalization::standard, train);
  EXPECT_FLOAT_EQ(s.offset[0], 3.0f);
  EXPECT_FLOAT_EQ(s.scale[0], 1.0f / std::sqrt(5.0f));
  EXPECT_FLOAT_EQ(s.scale[1], 1.0f);
  const Normalizer m = Normalizer::fit(Normalization::minmax, train);
  Dataset test = train;
  test.x = {6, 5, 12, 5, 0, 5, 3, 5};
  m.apply(test);
  EXPECT_FLOAT_EQ(test.x[0], 1.0f);
  EXPECT_FLOAT_EQ(test.x[2], 2.0f);  // outside the training range stays outside
  EXPECT_FLOAT_EQ(test.x[1], 0.0f);
}

Dataset regression_data() {
  Dataset d;
  d.source = "reg";
  d.rows = 4;
  d.features = 1;
  d.x = {-1, 0, 1, 2};
  d.target_width = 2;
  d.targets = {1000, 5, 1010, 5, 1020, 5, 1030, 5};  // column 1 is constant
  return d;
}

TEST(TargetNormalizer, StandardisesPerColumnAndUndoesExactly) {
  Dataset d = regression_data();
  const TargetNormalizer t = TargetNormalizer::fit(d);
  ASSERT_TRUE(t.active());
  EXPECT_FLOAT_EQ(t.offset[0], 1015.0f);
  EXPECT_FLOAT_EQ(t.scale[0], 1.0f / std::sqrt(125.0f));  // population std of 1000..1030
  EXPECT_FLOAT_EQ(t.offset[1], 5.0f);
  EXPECT_FLOAT_EQ(t.scale[1], 1.0f);  // constant column: shifted, not scaled
  const std::vector<float> original = d.targets;
  t.apply(d);
  double sum = 0, sum_sq = 0;
  for (std::size_t r = 0; r < d.rows; ++r)
    sum += d.targets[r * 2], sum_sq += d.targets[r * 2] * d.targets[r * 2];
  EXPECT_NEAR(sum / 4, 0.0, 1e-6);
  EXPECT_NEAR(sum_sq / 4, 1.0, 1e-6);
  EXPECT_FLOAT_EQ(d.targets[1], 0.0f);
  t.undo(d.targets);
  for (std::size_t i = 0; i < original.size(); ++i) EXPECT_NEAR(d.targets[i], original[i], 1e-3);
  Dataset other = regression_data();
  other.target_width = 1;
  other.targets.resize(4);
  EXPECT_THROW(t.apply(other), Error);
  Dataset classes;
  classes.source = "c";
  classes.rows = 1;
  classes.features = 1;
  classes.x = {0};
  classes.classes = 2;
  classes.labels = {1};
  EXPECT_THROW(TargetNormalizer::fit(classes), Error);
}

// A model trained on standardised targets, folded, answers in the data's units: its outputs are
// undo() of the unfolded outputs, and its MSE on the raw targets is the standardised MSE / scale².
TEST(TargetNormalizer, FoldedModelPredictsAndScoresInDataUnits) {
  Dataset raw = regression_data();
  raw.target_width = 1;
  raw.targets = {1000, 1010, 1020, 1030};
  const TargetNormalizer t = TargetNormalizer::fit(raw);
  Dataset standard = raw;
  t.apply(standard);
  Model<float> model(ModelSpec::mlp({1, 4, 1}, Activation::tanh, Activation::identity));
  model.initialize(7);
  std::vector<float> expected = predict(model, standard);
  t.undo(expected);
  const Evaluation before = evaluate(model, standard, Loss::mse);
  Model<float> folded = model.clone();
  t.fold_into(folded);
  const std::vector<float> got = predict(folded, raw);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-3);
  const Evaluation after = evaluate(folded, raw, Loss::mse);
  const double s2 = double(t.scale[0]) * t.scale[0];
  EXPECT_NEAR(after.regression.mse(), before.regression.mse() / s2, 1e-4 * after.regression.mse());
  EXPECT_NEAR(after.loss, before.loss / s2, 1e-4 * after.loss);
  EXPECT_NEAR(after.regression.r2(), before.regression.r2(), 1e-4);
  Model<float> sigmoid(ModelSpec::mlp({1, 4, 1}, Activation::tanh, Activation::sigmoid));
  EXPECT_THROW(t.fold_into(sigmoid), Error);
}

TEST(TargetNormalizer, TravelsInCheckpointsOnlyWhenUsed) {
  Model<float> m(ModelSpec::mlp({1, 3, 2}, Activation::relu, Activation::identity));
  m.initialize(1);
  TrainConfig c;
  c.loss = Loss::mse;
  Trainer trainer(m, c);
  Checkpoint k = trainer.checkpoint();
  const std::string plain = encode_checkpoint(k);
  EXPECT_EQ(plain.find("target_normalizer"), std::string::npos);
  EXPECT_FALSE(decode_checkpoint(plain, "plain").target_normalizer.active());
  k.target_normalizer = TargetNormalizer::fit(regression_data());
  const Checkpoint back = decode_checkpoint(encode_checkpoint(k), "k");
  EXPECT_EQ(back.target_normalizer.offset, k.target_normalizer.offset);
  EXPECT_EQ(back.target_normalizer.scale, k.target_normalizer.scale);
  k.target_normalizer.scale = {1.0f};  // one column for a model with two outputs
  k.target_normalizer.offset = {0.0f};
  EXPECT_THROW(decode_checkpoint(encode_checkpoint(k), "k"), Error);
}

}  // namespace
}  // namespace dptrain
