// Embedding dptrain: build a model in code, choose the optimizer and loss, set the threads,
// train on data the program makes itself, evaluate on held-out rows and print the accuracy.
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
    config.epochs = 40;
    config.batch_size = 64;
    config.seed = 7;
    config.threads = threads;
    config.on_warning = [](const std::string& w) {
      std::fprintf(stderr, "warning: %s\n", w.c_str());
    };

    dptrain::Trainer trainer(model, config);  // validates the settings, allocates everything
    std::printf("model %s, %zu trainable parameters, %zu thread(s)\n", spec.describe().c_str(),
                model.trainable_count(), config.threads);
    for (std::size_t e = 0; e < config.epochs; ++e) {
      const dptrain::EpochResult r = trainer.train_epoch(train);
      if (r.epoch % 10 == 0)
        std::printf("epoch %2zu  loss %.4f  acc %.4f  lr %.5f\n", r.epoch, r.train_loss,
                    r.train_metric, r.learning_rate);
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
