// Embedding dptrain: build a model in code, choose the optimizer and loss, set the threads,
// train on data the program makes itself (in memory, then from its own batch source), with a
// callback after every epoch, evaluate on held-out rows and print the accuracy.
// docs/API.md walks through this file.
//
// usage: embed [threads]   (default 2)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>
#include <string>

#include <dptrain/dptrain.hpp>

namespace {

/// Three classes in the plane: rings of radius 1, 2 and 3 (with noise) around the origin. No
/// straight line separates them, so the model needs its hidden layers.
dptrain::Dataset make_rings(std::size_t rows, std::uint64_t seed) {
  dptrain::Dataset d;
  d.source = "rings (seed " + std::to_string(seed) + ")";
  d.rows = rows;
  d.features = 2;
  d.classes = 3;
  d.x.resize(rows * 2);
  d.labels.resize(rows);
  dptrain::Rng rng(seed);
  for (std::size_t i = 0; i < rows; ++i) {
    const auto label = static_cast<std::int32_t>(rng.below(3));
    const double radius = 1.0 + label + 0.2 * rng.normal();
    const double angle = rng.uniform(0.0, 2.0 * std::numbers::pi);
    d.x[2 * i] = static_cast<float>(radius * std::cos(angle));
    d.x[2 * i + 1] = static_cast<float>(radius * std::sin(angle));
    d.labels[i] = label;
  }
  d.validate();  // throws dptrain::Error naming the first bad row
  return d;
}

/// The program's own data source: an endless stream of fresh ring samples, served one minibatch
/// at a time (no data set held in memory). An epoch here is `batches` minibatches.
class RingStream : public dptrain::BatchSource {
 public:
  explicit RingStream(std::size_t batches) : batches_(batches) {}
  void start_epoch(std::size_t epoch) override {
    served_ = 0;
    seed_ = 1000 + epoch * batches_;
  }
  bool next_batch(dptrain::Dataset& batch, std::size_t max_rows) override {
    if (served_ == batches_) return false;
    batch = make_rings(max_rows, seed_ + served_++);
    return true;
  }

 private:
  std::size_t batches_, served_ = 0;
  std::uint64_t seed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::size_t threads = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2;
    const dptrain::Dataset train = make_rings(4096, 1);
    const dptrain::Dataset test = make_rings(1024, 2);

    // The model: 2 inputs -> 32 relu -> 32 relu -> 3 softmax outputs.
    dptrain::ModelSpec spec;
    spec.inputs = 2;
    spec.layers = {dptrain::LayerSpec::dense(32, dptrain::Activation::relu),
                   dptrain::LayerSpec::dense(32, dptrain::Activation::relu),
                   dptrain::LayerSpec::dense(3, dptrain::Activation::softmax)};
    spec.init = dptrain::Init::he;
    dptrain::Model<float> model(spec);
    model.initialize(/*seed=*/7);

    // Training settings: loss, optimizer, schedule, batch, threads.
    dptrain::TrainConfig config;
    config.loss = dptrain::Loss::ce;
    config.optimizer.kind = dptrain::OptimizerKind::adam;
    config.optimizer.learning_rate = 0.01;
    config.schedule.kind = dptrain::ScheduleKind::cosine;
    config.epochs = 42;  // 40 in memory (or fewer) + 2 from the batch source
    config.batch_size = 64;
    config.seed = 7;
    config.threads = threads;
    config.on_warning = [](const std::string& w) {
      std::fprintf(stderr, "warning: %s\n", w.c_str());
    };

    dptrain::Trainer trainer(model, config);  // validates the settings, allocates everything
    std::printf("model %s, %zu trainable parameters, %zu thread(s)\n", spec.describe().c_str(),
                model.trainable_count(), config.threads);
    // fit() runs the epochs; the callback sees each epoch's metrics and may stop training.
    trainer.fit(train, [](const dptrain::EpochResult& r) {
      if (r.epoch % 10 == 0)
        std::printf("epoch %2zu  loss %.4f  acc %.4f  lr %.5f\n", r.epoch, r.train_loss,
                    r.train_metric, r.learning_rate);
      return r.epoch < 40 && r.train_metric < 0.995;  // false: request a stop
    });
    // Two more epochs from the program's own batch source (fresh samples every batch).
    RingStream stream(/*batches=*/32);
    for (int e = 0; e < 2; ++e) {
      const dptrain::EpochResult r = trainer.train_epoch(stream);
      std::printf("stream epoch %zu  loss %.4f  acc %.4f  (%zu batches)\n", r.epoch, r.train_loss,
                  r.train_metric, r.steps);
    }

    const dptrain::Evaluation eval = trainer.evaluate(test);
    std::printf("test loss %.4f\n", eval.loss);
    for (std::size_t c = 0; c < eval.confusion.classes(); ++c)
      std::printf("class %zu: precision %.3f recall %.3f\n", c, eval.confusion.precision(c),
                  eval.confusion.recall(c));
    std::printf("params_hash=%s\n",
                dptrain::hash_hex(dptrain::params_hash<float>(model.parameters())).c_str());
    std::printf("accuracy %.4f\n", eval.metric());
    return 0;
  } catch (const dptrain::Error& e) {
    std::fprintf(stderr, "embed: error: %s\n", e.what());
    return 2;
  }
}
