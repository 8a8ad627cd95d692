// A checkpoint made with the C++ API works in the dptrain program exactly like one made by
// `dptrain train`: `predict` reads it as a classifier, writes the class names of its schema, and
// matches input columns by name. The library refuses labels outside the model's classes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dptrain/checkpoint.hpp"
#include "dptrain/dptrain.hpp"

namespace dptrain {
namespace {

namespace fs = std::filesystem;

/// Three separable groups of two features: class c around (c, -c).
Dataset groups(bool with_schema) {
  Dataset d;
  d.source = "groups";
  d.features = 2;
  d.classes = 3;
  for (int r = 0; r < 90; ++r) {
    const int c = r % 3;
    d.x.push_back(float(c) + 0.01f * float(r % 7));
    d.x.push_back(-float(c) - 0.01f * float(r % 5));
    d.labels.push_back(c);
  }
  d.rows = d.labels.size();
  if (with_schema) {
    d.schema.task = Task::classification;
    d.schema.feature_names = {"x", "y"};
    d.schema.label_column = "animal";
    d.schema.class_names = {"cat", "dog", "emu"};
  }
  return d;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ApiCheckpointInCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dptrain_api_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  /// Trains on `data` through the API and saves trainer.checkpoint() as a program would.
  fs::path train_and_save(const Dataset& data) {
    Model<float> model(ModelSpec::mlp({2, 16, 3}, Activation::relu, Activation::softmax));
    model.initialize(1);
    TrainConfig config;
    config.optimizer.learning_rate = 0.05;
    config.epochs = 30;
    config.batch_size = 16;
    Trainer trainer(model, config);
    trainer.fit(data);
    const fs::path path = dir_ / "api.dpt";
    save_checkpoint(path.string(), trainer.checkpoint());
    return path;
  }
  /// Runs dptrain predict on `csv` (written to a file) and returns the predictions file.
  std::string predict(const fs::path& model, const std::string& csv, const std::string& args) {
    std::ofstream(dir_ / "in.csv") << csv;
    const std::string cmd = std::string(DPTRAIN_CLI) + " predict --model " + model.string() +
                            " --data csv:" + (dir_ / "in.csv").string() + " --out " +
                            (dir_ / "out.csv").string() + " " + args + " 2>" +
                            (dir_ / "err.txt").string();
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << read(dir_ / "err.txt");
    return read(dir_ / "out.csv");
  }
  fs::path dir_;
};

TEST_F(ApiCheckpointInCli, PredictsAsAClassifierWithoutASchema) {
  const fs::path model = train_and_save(groups(false));
  EXPECT_EQ(load_checkpoint(model.string()).classes, 3u);
  const std::string out = predict(model, "0,0\n2,-2\n", "--label none");
  EXPECT_EQ(out.substr(0, out.find('\n')), "class,p0,p1,p2");
  EXPECT_EQ(out.substr(out.find('\n') + 1, 2), "0,");
}

TEST_F(ApiCheckpointInCli, WritesClassNamesAndMatchesColumnsByName) {
  const fs::path model = train_and_save(groups(true));
  const Checkpoint c = load_checkpoint(model.string());
  EXPECT_EQ(c.schema.class_names, (std::vector<std::string>{"cat", "dog", "emu"}));
  // Columns in another order, no label column: reordered by name, read as unlabelled.
  const std::string out = predict(model, "y,x\n0,0\n-2,2\n-1,1\n", "");
  EXPECT_NE(out.find("\ncat,"), std::string::npos) << out;
  EXPECT_NE(out.find("\nemu,"), std::string::npos) << out;
  EXPECT_NE(out.find("\ndog,"), std::string::npos) << out;
  EXPECT_NE(read(dir_ / "err.txt").find("matched by name"), std::string::npos);
}

TEST(ApiLabels, FitRefusesLabelsOutsideTheModelsClasses) {
  Model<float> model(ModelSpec::mlp({2, 4, 3}, Activation::relu, Activation::softmax));
  model.initialize(1);
  TrainConfig config;
  config.epochs = 1;
  Trainer trainer(model, config);
  Dataset d = groups(false);
  d.labels[5] = 7;  // 3 classes, label 7: refused before any step
  EXPECT_THROW(trainer.fit(d), Error);
  d.classes = 8;  // 8 classes against 3 output units
  EXPECT_THROW(trainer.fit(d), Error);
  EXPECT_EQ(trainer.epochs_done(), 0u);
}

}  // namespace
}  // namespace dptrain
