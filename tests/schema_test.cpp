// Data schemas (schema.hpp): class order, checks, and the round trip through checkpoints.
#include <gtest/gtest.h>

#include "dptrain/checkpoint.hpp"
#include "dptrain/schema.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

using Names = std::vector<std::string>;

TEST(Schema, NumericLabelsSortAsNumbers) {
  EXPECT_EQ(sorted_class_values({"10", "9", "-1", "9", "2.5"}), (Names{"-1", "2.5", "9", "10"}));
}

TEST(Schema, TextLabelsSortByBytes) {
  EXPECT_EQ(sorted_class_values({"virginica", "setosa", "10", "Versicolor", "setosa"}),
            (Names{"10", "Versicolor", "setosa", "virginica"}));
}

TEST(Schema, ClassIndicesNeedNoNames) {
  EXPECT_TRUE(are_class_indices({"0", "1", "2"}));
  EXPECT_FALSE(are_class_indices({"1", "2"}));
  EXPECT_FALSE(are_class_indices({"0", "2"}));
  EXPECT_FALSE(are_class_indices({"0", "a"}));
}

TEST(Schema, ClassNameFallsBackToTheIndex) {
  DataSchema s;
  EXPECT_EQ(s.class_name(3), "3");
  s.class_names = {"cat", "dog"};
  EXPECT_EQ(s.class_name(1), "dog");
}

TEST(Schema, CheckNamesWhatContradictsTheModel) {
  DataSchema s;
  s.feature_names = {"a", "b"};
  EXPECT_NO_THROW(s.check(2, 0, "x"));
  EXPECT_THROW(s.check(3, 0, "x"), Error);
  s.class_names = {"cat", "cat"};
  try {
    s.check(2, 2, "the schema");
    FAIL() << "duplicate class accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("class 'cat' twice"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_task("clustering"), Error);
  EXPECT_EQ(parse_task(task_name(Task::regression)), Task::regression);
}

TEST(Schema, TrainerCarriesTheDataSchemaIntoCheckpoints) {
  Dataset d = make_synthetic("xor", 1);
  d.schema.feature_names = {"left", "right"};
  d.schema.label_column = "xor";
  d.schema.class_names = {"false", "true"};
  d.schema.task = Task::classification;
  Model<float> m(ModelSpec::mlp({2, 3, 2}, Activation::tanh, Activation::softmax, 0.0));
  m.initialize(1);
  TrainConfig c;
  c.epochs = 1;
  c.batch_size = 4;
  Trainer t(m, c);
  t.fit(d);
  const Checkpoint k = decode_checkpoint(encode_checkpoint(t.checkpoint()), "m.dpt");
  EXPECT_EQ(k.schema, d.schema);
}

TEST(Schema, CheckpointFromUnnamedDataRecordsTheTask) {
  const Dataset d = make_synthetic("square", 1);
  Model<float> m(ModelSpec::mlp({1, 4, 1}, Activation::tanh, Activation::identity, 0.0));
  m.initialize(1);
  TrainConfig c;
  c.epochs = 1;
  c.loss = Loss::mse;
  Trainer t(m, c);
  t.fit(d);
  EXPECT_GT(t.step_count(), 0u);
  EXPECT_EQ(t.checkpoint().schema.task, Task::regression);
  EXPECT_TRUE(t.checkpoint().schema.feature_names.empty());
}

TEST(Schema, DecodeRefusesASchemaThatContradictsTheModel) {
  Model<float> m(ModelSpec::mlp({2, 3, 2}, Activation::tanh, Activation::softmax, 0.0));
  m.initialize(1);
  Trainer t(m, TrainConfig{});
  Checkpoint k = t.checkpoint();
  k.classes = 2;
  k.schema.feature_names = {"only-one"};
  try {
    decode_checkpoint(encode_checkpoint(k), "m.dpt");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("names 1 features but the model has 2"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dptrain
