// dptrain train: load data, build a model, train it, print one line per epoch and the final
// params_hash.
#include <cstdio>
#include <optional>
#include <string>

#include "commands.hpp"
#include "dptrain/dptrain.hpp"
#include "options.hpp"

namespace dptrain::cli {

namespace {

/// The default test set for a training spec: the package's test split for Fashion-MNIST, a
/// fresh sample (seed + 1) of the same generator for synthetic sets, XOR itself for xor.
std::optional<Dataset> default_test_set(const std::string& train_spec, std::uint64_t seed) {
  if (train_spec == "fashion-mnist" || train_spec == "fashion-mnist:train")
    return load_dataset("fashion-mnist:test", seed);
  if (train_spec == "xor") return load_dataset("xor", seed);
  if (is_synthetic_name(train_spec)) {
    Dataset d = load_dataset(train_spec, seed + 1);
    d.source = train_spec + " (test sample)";
    return d;
  }
  return std::nullopt;
}

Activation default_output(Loss loss) {
  switch (loss) {
    case Loss::ce:
      return Activation::softmax;
    case Loss::bce:
      return Activation::sigmoid;
    case Loss::mse:
      return Activation::identity;
  }
  return Activation::identity;
}

Loss default_loss(const Dataset& data, std::size_t outputs) {
  if (!data.classification()) return Loss::mse;
  return outputs == 1 ? Loss::bce : Loss::ce;
}

std::string metric_line(const char* prefix, const Evaluation& e) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "  %sloss %.4f  %s%s %.4f", prefix, e.loss, prefix,
                e.metric_name(), e.metric());
  return buf;
}

}  // namespace

int train_command(int argc, char** argv) {
  cxxopts::Options options("dptrain train", "Train a multilayer perceptron with data parallelism.");
  options.add_options("Data")(
      "data", "Training data: fashion-mnist, idx:<images>,<labels>, xor, square, blobs8, linear",
      cxxopts::value<std::string>()->default_value("fashion-mnist"))(
      "test-data",
      "Test data (same syntax; default: the matching test split or a fresh sample, "
      "'none' for no test set)",
      cxxopts::value<std::string>())("limit", "Use only the first N training rows",
                                     cxxopts::value<std::string>())(
      "test-limit", "Use only the first N test rows", cxxopts::value<std::string>());
  options.add_options("Model")("layers", "Widths input,hidden...,output",
                               cxxopts::value<std::string>()->default_value("784,128,10"))(
      "activation", "Hidden activation: relu, leaky_relu, tanh, sigmoid, identity",
      cxxopts::value<std::string>()->default_value("relu"))(
      "output", "Output activation: softmax, sigmoid, identity (default: from the loss)",
      cxxopts::value<std::string>())(
      "loss", "mse, bce or ce (default: ce for classes, bce for one output, mse for regression)",
      cxxopts::value<std::string>())("dropout", "Dropout rate after each hidden layer",
                                     cxxopts::value<std::string>()->default_value("0"))(
      "init", "Initialisation: auto (He for relu, else Glorot), he, glorot",
      cxxopts::value<std::string>()->default_value("auto"));
  options.add_options("Optimizer")("optimizer",
                                   "sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw",
                                   cxxopts::value<std::string>()->default_value("adam"))(
      "lr", "Learning rate", cxxopts::value<std::string>()->default_value("0.001"))(
      "momentum", "Momentum for momentum/nesterov",
      cxxopts::value<std::string>()->default_value("0.9"))(
      "weight-decay", "Decoupled weight decay (default 0; 0.01 for adamw)",
      cxxopts::value<std::string>())("l1", "L1 penalty on weights",
                                     cxxopts::value<std::string>()->default_value("0"))(
      "l2", "L2 penalty (l2/2 |w|^2) on weights",
      cxxopts::value<std::string>()->default_value("0"))(
      "schedule", "Learning-rate schedule: constant, step, cosine",
      cxxopts::value<std::string>()->default_value("constant"))(
      "lr-step-epochs", "step schedule: epochs between decays",
      cxxopts::value<std::string>()->default_value("10"))(
      "lr-gamma", "step schedule: decay factor",
      cxxopts::value<std::string>()->default_value("0.1"))(
      "min-lr", "cosine schedule: final learning rate",
      cxxopts::value<std::string>()->default_value("0"));
  options.add_options("Training")("epochs", "Epochs",
                                  cxxopts::value<std::string>()->default_value("10"))(
      "batch-size", "Minibatch size (the global batch, split across threads)",
      cxxopts::value<std::string>()->default_value("32"))(
      "seed", "Seed for every random choice", cxxopts::value<std::string>()->default_value("42"));
  add_engine_options(options);
  options.add_options()("h,help", "Show this help");

  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);

  TrainConfig config;
  config.seed = parse_count(r["seed"].as<std::string>(), "seed", 0);
  config.epochs = parse_count(r["epochs"].as<std::string>(), "epochs", 1);
  config.batch_size = parse_count(r["batch-size"].as<std::string>(), "batch-size", 1);
  config.optimizer.kind = parse_optimizer(r["optimizer"].as<std::string>());
  config.optimizer.learning_rate = parse_real(r["lr"].as<std::string>(), "lr");
  config.optimizer.momentum = parse_real(r["momentum"].as<std::string>(), "momentum");
  config.optimizer.weight_decay =
      r.count("weight-decay") ? parse_real(r["weight-decay"].as<std::string>(), "weight-decay")
      : config.optimizer.kind == OptimizerKind::adamw ? 0.01
                                                      : 0.0;
  config.optimizer.l1 = parse_real(r["l1"].as<std::string>(), "l1");
  config.optimizer.l2 = parse_real(r["l2"].as<std::string>(), "l2");
  config.schedule.kind = parse_schedule(r["schedule"].as<std::string>());
  config.schedule.step_epochs =
      parse_count(r["lr-step-epochs"].as<std::string>(), "lr-step-epochs", 1);
  config.schedule.gamma = parse_real(r["lr-gamma"].as<std::string>(), "lr-gamma");
  config.schedule.min_lr = parse_real(r["min-lr"].as<std::string>(), "min-lr");
  read_engine_options(r, config);
  config.on_warning = [](const std::string& w) {
    std::fprintf(stderr, "dptrain: warning: %s\n", w.c_str());
  };
  config.validate();  // settings first: a typo should not wait for a data set to load

  const std::vector<std::size_t> widths = parse_size_list(r["layers"].as<std::string>(), "layers");
  if (widths.size() < 2) throw Error("--layers needs at least an input and an output width");
  const Activation hidden = parse_activation(r["activation"].as<std::string>());
  if (hidden == Activation::softmax)
    throw Error("--activation softmax: softmax is only for the output layer");
  const double dropout = parse_real(r["dropout"].as<std::string>(), "dropout");
  if (!(dropout >= 0 && dropout < 1)) throw Error("--dropout must be in [0, 1)");
  const std::string init = r["init"].as<std::string>();
  if (init != "auto" && init != "he" && init != "glorot")
    throw Error("--init: unknown initialisation '" + init + "' (expected auto, he or glorot)");

  const std::string data_spec = r["data"].as<std::string>();
  Dataset train = load_dataset(data_spec, config.seed);
  if (r.count("limit")) train = train.head(parse_count(r["limit"].as<std::string>(), "limit", 1));
  std::optional<Dataset> test;
  if (r.count("test-data")) {
    if (r["test-data"].as<std::string>() != "none")
      test = load_dataset(r["test-data"].as<std::string>(), config.seed + 1);
  } else {
    test = default_test_set(data_spec, config.seed);
  }
  if (test && r.count("test-limit"))
    *test = test->head(parse_count(r["test-limit"].as<std::string>(), "test-limit", 1));

  config.loss = r.count("loss") ? parse_loss(r["loss"].as<std::string>())
                                : default_loss(train, widths.back());
  const Activation output = r.count("output") ? parse_activation(r["output"].as<std::string>())
                                              : default_output(config.loss);
  ModelSpec spec = ModelSpec::mlp(widths, hidden, output, dropout);
  spec.init = init == "he" ? Init::he : init == "glorot" ? Init::glorot : Init::automatic;
  Model<float> model(spec);
  model.initialize(config.seed);
  Trainer trainer(model, config);
  // Shapes are checked before anything is printed, training set first.
  trainer.check_data(train);
  if (test) trainer.check_data(*test);

  std::printf("dptrain %s: model %s, %zu parameters, loss %s, optimizer %s (lr %g)\n",
              version_string, spec.describe().c_str(), model.trainable_count(),
              loss_name(config.loss), optimizer_name(config.optimizer.kind),
              config.optimizer.learning_rate);
  std::printf("data %s: %zu rows x %zu features", train.source.c_str(), train.rows, train.features);
  if (test) std::printf("; test %s: %zu rows", test->source.c_str(), test->rows);
  std::printf("\nthreads %zu (backend %s, parallelism %s%s), batch %zu, GEMM %s\n", config.threads,
              parallel::backend_name(config.backend), parallelism_name(config.parallelism),
              config.deterministic ? ", deterministic" : "", config.batch_size,
              gemm_kernel_description(trainer.config().gemm).c_str());
  std::fflush(stdout);

  std::optional<Evaluation> last_test;
  const char* metric = train.classification() ? "acc" : "mse";
  for (std::size_t e = 0; e < config.epochs; ++e) {
    const EpochResult er = trainer.train_epoch(train);
    std::string line;
    char buf[160];
    std::snprintf(buf, sizeof buf, "epoch %zu/%zu  loss %.4f  %s %.4f", er.epoch, config.epochs,
                  er.train_loss, metric, er.train_metric);
    line = buf;
    if (test) {
      last_test = trainer.evaluate(*test);
      line += metric_line("test_", *last_test);
    }
    std::snprintf(buf, sizeof buf, "  samples/s %.0f  time %.2fs", er.samples_per_second,
                  er.seconds);
    line += buf;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  if (last_test) {
    if (last_test->classification)
      std::printf("final test accuracy %.4f\n", last_test->metric());
    else
      std::printf("final test mse %.6f\n", last_test->metric());
  }
  std::printf("params_hash=%s\n", hash_hex(params_hash<float>(model.parameters())).c_str());
  return 0;
}

}  // namespace dptrain::cli
