// Inference: evaluation and prediction with their own chunking, serial or over a pool, and the
// Trainer's evaluate/predict built on them.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.hpp"

namespace dptrain {
namespace {

Model<float> trained_model(const Dataset& d) {
  Model<float> m(ModelSpec::mlp({8, 16, 1}, Activation::relu, Activation::sigmoid));
  m.initialize(2);
  TrainConfig c;
  c.loss = Loss::bce;
  c.epochs = 20;
  c.optimizer.learning_rate = 0.01;
  Trainer t(m, c);
  t.fit(d);
  return m;
}

TEST(Inference, SameResultsSerialPooledAndForAnyChunk) {
  const Dataset d = make_synthetic("blobs8", 4);
  const Model<float> m = trained_model(d);
  const Evaluation serial = evaluate(m, d, Loss::bce, {nullptr, 1, GemmBackend::reference, 0});
  const std::vector<float> expected = predict(m, d, {nullptr, 1, GemmBackend::reference, 0});
  parallel::WorkerPool pool(parallel::Backend::threads, 3);
  for (std::size_t chunk : {1u, 7u, 256u, 1000u}) {
    const InferenceOptions o{&pool, chunk, GemmBackend::reference, 0};
    Inference inference(m.spec(), o);
    const Evaluation e = inference.evaluate(m, d, Loss::bce);
    EXPECT_EQ(e.rows, d.rows);
    EXPECT_NEAR(e.loss, serial.loss, 1e-9);
    EXPECT_EQ(e.confusion.accuracy(), serial.confusion.accuracy());
    // The reference kernel computes each row alike whatever the chunk: the same bits.
    EXPECT_EQ(inference.predict(m, d), expected) << chunk;
  }
  EXPECT_GT(serial.metric(), 0.85);  // the model learned something: outputs are not all equal
}

TEST(Inference, AccuracyAndLossAgreeWithPredictions) {
  const Dataset d = make_synthetic("blobs8", 4);
  const Model<float> m = trained_model(d);
  const std::vector<float> p = predict(m, d);
  std::size_t correct = 0;
  double loss = 0;
  for (std::size_t r = 0; r < d.rows; ++r) {
    const int label = d.labels[r];
    correct += (p[r] >= 0.5f) == (label == 1);
    const double q = label == 1 ? p[r] : 1.0 - p[r];
    loss -= std::log(std::max(q, 1e-12));
  }
  const Evaluation e = evaluate(m, d, Loss::bce);
  EXPECT_NEAR(e.metric(), double(correct) / double(d.rows), 1e-12);
  EXPECT_NEAR(e.loss, loss / double(d.rows), 1e-4);
}

TEST(Inference, BadInputNamesTheProblem) {
  const Dataset d = make_synthetic("blobs8", 4);
  const Model<float> m = trained_model(d);
  Dataset unlabelled = d;
  unlabelled.classes = 0;
  unlabelled.labels.clear();
  EXPECT_EQ(predict(m, unlabelled).size(), d.rows);  // prediction needs no labels
  try {
    evaluate(m, unlabelled, Loss::bce);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no label column"), std::string::npos);
    EXPECT_EQ(e.topic(), ErrorTopic::label_column);
  }
  try {
    predict(m, make_synthetic("xor", 1));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 2 features but the model's input layer takes 8"),
              std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos);  // no CLI flags in the library
    EXPECT_EQ(e.topic(), ErrorTopic::layer_widths);
  }
  EXPECT_THROW(Inference(m.spec(), {nullptr, 0}), std::invalid_argument);
}

}  // namespace
}  // namespace dptrain
