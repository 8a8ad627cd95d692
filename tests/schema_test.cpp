// Data schemas (schema.hpp): class order, checks, and the round trip through checkpoints.
#include <gtest/gtest.h>

#include "dptrain/checkpoint.hpp"
#include "dptrain/schema.hpp"
#include "dptrain/utf8.hpp"
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

TEST(Utf8, FindsTheFirstByteThatIsNotWellFormed) {
  constexpr auto npos = std::string_view::npos;
  EXPECT_EQ(invalid_utf8_offset("plain"), npos);
  EXPECT_EQ(invalid_utf8_offset("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), npos);
  EXPECT_EQ(invalid_utf8_offset("caf\xE9"), 3u);           // Latin-1
  EXPECT_EQ(invalid_utf8_offset("a\xC0\xAF"), 1u);         // overlong '/'
  EXPECT_EQ(invalid_utf8_offset("\xED\xA0\x80"), 0u);      // a surrogate
  EXPECT_EQ(invalid_utf8_offset("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("ok\xE2\x82"), 2u);        // cut short
  EXPECT_EQ(escape_invalid_utf8("caf\xE9 \xC3\xA9"), "caf\\xE9 \xC3\xA9");
  try {
    require_utf8("caf\xE9", "t.csv: line 1, column 2", "column name");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "t.csv: line 1, column 2: column name 'caf\\xE9' is not valid UTF-8 (byte 0xE9 "
                 "at byte 4); save the data as UTF-8");
  }
}

TEST(Utf8, CheckpointsRefuseNamesThatAreNotUtf8AndKeepAnyPath) {
  Model<float> m(ModelSpec::mlp({2, 3, 2}, Activation::tanh, Activation::softmax, 0.0));
  m.initialize(1);
  Trainer t(m, TrainConfig{});
  Checkpoint k = t.checkpoint();
  k.classes = 2;
  k.data = "csv:tr\xE9in.csv";  // a path, for the record: any bytes
  EXPECT_EQ(decode_checkpoint(encode_checkpoint(k), "m.dpt").data, "csv:tr\xEF\xBF\xBDin.csv");
  k.schema.class_names = {"caf\xE9", "dog"};
  EXPECT_THROW(encode_checkpoint(k), Error);
  k.schema.class_names = {"caf\xC3\xA9", "dog"};
  EXPECT_EQ(decode_checkpoint(encode_checkpoint(k), "m.dpt").schema.class_names[0], "caf\xC3\xA9");
}

}  // namespace
}  // namespace dptrain
