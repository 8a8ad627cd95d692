// dptrain train: load data, build (or resume) a model, train it with one line per epoch,
// checkpoint it, and print the final params_hash.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "commands.hpp"
#include "data_options.hpp"
#include "dptrain/checkpoint.hpp"
#include "dptrain/dptrain.hpp"
#include "dptrain/normalize.hpp"
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

/// A one-line progress bar on stderr, redrawn at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::size_t epoch, std::size_t epochs, std::size_t batch)
      : epoch_(epoch), epochs_(epochs), batch_(batch), start_(Clock::now()) {}
  void update(std::size_t done, std::size_t total) {
    const auto now = Clock::now();
    if (done != total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? double(done * batch_) / secs : 0;
    const double eta = done ? secs * double(total - done) / double(done) : 0;
    constexpr int kWidth = 30;
    const int filled = int(kWidth * done / std::max<std::size_t>(total, 1));
    std::fprintf(stderr, "\repoch %zu/%zu [%.*s%*s] %3zu%%  %.0f samples/s  ETA %.0fs ", epoch_,
                 epochs_, filled, "##############################", kWidth - filled, "",
                 100 * done / std::max<std::size_t>(total, 1), rate, eta);
    std::fflush(stderr);
  }
  static void clear() { std::fprintf(stderr, "\r%*s\r", 100, ""); }

 private:
  using Clock = std::chrono::steady_clock;
  std::size_t epoch_, epochs_, batch_;
  Clock::time_point start_, last_{};
};

}  // namespace

int train_command(int argc, char** argv) {
  cxxopts::Options options("dptrain train", "Train a multilayer perceptron with data parallelism.");
  add_data_options(options, true);
  options.add_options("Data")("normalize",
                              "Feature scaling fitted on the training data: none, standard, minmax",
                              cxxopts::value<std::string>()->default_value("none"))(
      "val-split", "Hold out this fraction of the training rows (seeded) for validation",
      cxxopts::value<std::string>());
  options.add_options("Model")("layers", "Widths input,hidden...,output (default 784,128,10)",
                               cxxopts::value<std::string>())(
      "activation", "Hidden activation: relu, leaky_relu, tanh, sigmoid, identity",
      cxxopts::value<std::string>()->default_value("relu"))(
      "output", "Output activation: softmax, sigmoid, identity (default: from the loss)",
      cxxopts::value<std::string>())(
      "loss",
      "mse, bce or ce (default: ce for classes, bce for one output, mse for regression; "
      "csv/sqlite labels are classes unless --loss mse)",
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
  options.add_options("Training")("epochs",
                                  "Total epochs (with --resume: including those already done)",
                                  cxxopts::value<std::string>()->default_value("10"))(
      "batch-size", "Minibatch size (the global batch, split across threads)",
      cxxopts::value<std::string>()->default_value("32"))(
      "seed", "Seed for every random choice", cxxopts::value<std::string>()->default_value("42"))(
      "patience",
      "Early stopping: stop after N epochs without a better validation loss and "
      "restore the best weights (needs --val-split)",
      cxxopts::value<std::string>());
  options.add_options("Output")(
      "save", "Write a checkpoint here after every epoch and at the end (atomically)",
      cxxopts::value<std::string>())(
      "resume",
      "Continue from a checkpoint (its model, optimizer, loss, seed, batch size and "
      "normalisation)",
      cxxopts::value<std::string>())(
      "log", "Append one JSON object per epoch to this file (JSON lines)",
      cxxopts::value<std::string>())("quiet", "Print only the final metric and params_hash")(
      "profile",
      "At the end, print the mean step time split: forward+backward, reduce+update, "
      "communication between ranks, waiting");
  add_engine_options(options);
  options.add_options()("h,help", "Show this help");

  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);
  // Note [Ranks]: under MPI every rank trains; rank 0 alone prints, logs and writes checkpoints.
  Communicator* comm = job_communicator();
  const bool leader = !comm || comm->rank() == 0;
  const bool quiet = r.count("quiet") > 0 || !leader;

  // ---- settings: from the command line, or from the checkpoint being resumed ----
  TrainConfig config;
  read_engine_options(r, config);
  config.communicator = comm;
  std::optional<Checkpoint> resumed;
  ModelSpec spec;
  if (r.count("resume")) {
    resumed = load_checkpoint(r["resume"].as<std::string>());
    spec = resumed->spec;
    if (r.count("layers")) {
      const auto widths = parse_size_list(r["layers"].as<std::string>(), "layers");
      std::vector<std::size_t> have = {spec.inputs};
      for (const LayerSpec& l : spec.layers)
        if (l.kind == LayerSpec::Kind::dense) have.push_back(l.units);
      if (widths != have)
        throw Error("checkpoint '" + r["resume"].as<std::string>() + "' holds model " +
                    spec.describe() + ", which does not match --layers " +
                    r["layers"].as<std::string>());
    }
    config.loss = resumed->loss;
    config.optimizer = resumed->optimizer;
    config.schedule = resumed->schedule;
    config.seed = resumed->seed;
    config.batch_size = resumed->batch_size;
    config.deterministic = resumed->deterministic;
    config.micro_batches = resumed->micro_batches;
    config.epochs = r.count("epochs") ? parse_count(r["epochs"].as<std::string>(), "epochs", 1)
                                      : resumed->epochs_total;
  } else {
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
  }
  config.on_warning = [](const std::string& w) {
    std::fprintf(stderr, "dptrain: warning: %s\n", w.c_str());
  };
  config.validate();  // settings first: a typo should not wait for a data set to load

  std::vector<std::size_t> widths;
  Activation hidden = Activation::relu;
  double dropout = 0;
  std::string init = "auto";
  if (!resumed) {
    widths =
        parse_size_list(r.count("layers") ? r["layers"].as<std::string>() : "784,128,10", "layers");
    if (widths.size() < 2) throw Error("--layers needs at least an input and an output width");
    hidden = parse_activation(r["activation"].as<std::string>());
    if (hidden == Activation::softmax)
      throw Error("--activation softmax: softmax is only for the output layer");
    dropout = parse_real(r["dropout"].as<std::string>(), "dropout");
    if (!(dropout >= 0 && dropout < 1)) throw Error("--dropout must be in [0, 1)");
    init = r["init"].as<std::string>();
    if (init != "auto" && init != "he" && init != "glorot")
      throw Error("--init: unknown initialisation '" + init + "' (expected auto, he or glorot)");
  }
  const Normalization norm_kind = parse_normalization(r["normalize"].as<std::string>());
  std::optional<std::size_t> patience;
  if (r.count("patience")) patience = parse_count(r["patience"].as<std::string>(), "patience", 1);
  std::optional<double> val_split;
  if (r.count("val-split")) val_split = parse_real(r["val-split"].as<std::string>(), "val-split");
  if (patience && !val_split) throw Error("--patience needs a validation set: add --val-split 0.1");

  // ---- data ----
  const std::string data_spec = r["data"].as<std::string>();
  const bool tabular = data_spec.starts_with("csv:") || data_spec.starts_with("sqlite:");
  const std::size_t outputs = resumed ? spec.outputs() : widths.back();
  if (!resumed && r.count("loss"))
    config.loss = parse_loss(r["loss"].as<std::string>());
  else if (!resumed && tabular)
    config.loss = outputs == 1 ? Loss::bce : Loss::ce;
  const TableOptions table = read_table_options(r, config.loss != Loss::mse);
  Dataset train = load_main_data(r, config.seed, table);
  if (!resumed && !r.count("loss") && !tabular)
    config.loss = !train.classification() ? Loss::mse : outputs == 1 ? Loss::bce : Loss::ce;
  std::optional<Dataset> test;
  if (r.count("test-data")) {
    if (r["test-data"].as<std::string>() != "none")
      test = load_dataset(r["test-data"].as<std::string>(), config.seed + 1, table);
  } else {
    test = default_test_set(data_spec, config.seed);
  }
  if (test && r.count("test-limit"))
    *test = test->head(parse_count(r["test-limit"].as<std::string>(), "test-limit", 1));
  std::optional<Dataset> val;
  if (val_split) {
    auto parts = split_validation(train, *val_split, config.seed);
    train = std::move(parts.first);
    val = std::move(parts.second);
  }
  const Normalizer normalizer = resumed ? resumed->normalizer : Normalizer::fit(norm_kind, train);
  normalizer.apply(train);
  if (val) normalizer.apply(*val);
  if (test) normalizer.apply(*test);

  // ---- model and trainer ----
  if (!resumed) {
    const Activation output = r.count("output") ? parse_activation(r["output"].as<std::string>())
                                                : default_output(config.loss);
    spec = ModelSpec::mlp(widths, hidden, output, dropout);
    spec.init = init == "he" ? Init::he : init == "glorot" ? Init::glorot : Init::automatic;
  }
  const bool show_bar = !quiet && ::isatty(STDERR_FILENO);
  std::optional<ProgressBar> bar;
  if (show_bar)
    config.on_step = [&bar](std::size_t done, std::size_t total) {
      if (bar) bar->update(done, total);
    };
  Model<float> model(spec);
  model.initialize(config.seed);
  Trainer trainer(model, config);
  trainer.set_timing(r.count("profile") > 0);
  trainer.check_data(train);  // shapes before anything is printed, training set first
  if (val) trainer.check_data(*val);
  if (test) trainer.check_data(*test);
  if (comm) {
    // Ranks that disagree on the model, the settings or the data fail fast, before training.
    std::string settings =
        spec.describe() + "|" + loss_name(config.loss) + "|" +
        optimizer_name(config.optimizer.kind) + "|" +
        std::to_string(config.optimizer.learning_rate) + "|" + std::to_string(config.batch_size) +
        "|" + std::to_string(config.seed) + "|" + std::to_string(config.epochs) + "|" +
        std::to_string(config.deterministic) + "|" + std::to_string(config.micro_batches) + "|" +
        std::to_string(train.rows) + "|" + std::to_string(train.features) + "|" +
        std::to_string(train.classes);
    std::uint64_t fp = hash_bytes(settings.data(), settings.size());
    fp ^= hash_bytes(train.x.data(), train.x.size() * sizeof(float)) * 3;
    fp ^= hash_bytes(train.labels.data(), train.labels.size() * sizeof(std::int32_t)) * 5;
    fp ^= hash_bytes(train.targets.data(), train.targets.size() * sizeof(float)) * 7;
    comm->check_agreement(fp, "the model, the training settings or the training data");
  }
  // Early stopping state; best_val_loss < 0 means "none yet".
  double best_val_loss = resumed ? resumed->best_validation_loss : -1;
  std::size_t since_best = resumed ? resumed->epochs_since_best : 0;
  if (resumed) {
    trainer.restore(*resumed);
    if (resumed->classes != train.classes)
      throw Error("checkpoint was trained on " + std::to_string(resumed->classes) +
                  " classes but data '" + train.source + "' has " + std::to_string(train.classes));
  }

  auto make_checkpoint = [&] {
    Checkpoint c = trainer.checkpoint();
    c.normalizer = normalizer;
    c.classes = train.classes;
    c.best_validation_loss = best_val_loss;
    c.epochs_since_best = since_best;
    c.data = data_spec;
    return c;
  };
  const std::optional<std::string> save_path =
      r.count("save") ? std::optional(r["save"].as<std::string>()) : std::nullopt;

  std::ofstream log;
  if (r.count("log") && leader) {
    const std::string path = r["log"].as<std::string>();
    log.open(path, resumed ? std::ios::app : std::ios::trunc);
    if (!log) throw Error("cannot open log file '" + path + "' for writing");
  }

  if (!quiet) {
    std::printf("dptrain %s: model %s, %zu parameters, loss %s, optimizer %s (lr %g)\n",
                version_string, spec.describe().c_str(), model.trainable_count(),
                loss_name(config.loss), optimizer_name(config.optimizer.kind),
                config.optimizer.learning_rate);
    std::printf("data %s: %zu rows x %zu features", train.source.c_str(), train.rows,
                train.features);
    if (val) std::printf("; validation %zu rows", val->rows);
    if (test) std::printf("; test %s: %zu rows", test->source.c_str(), test->rows);
    if (normalizer.active()) std::printf("; normalize %s", normalization_name(normalizer.kind));
    const std::size_t ranks = comm ? std::size_t(comm->size()) : 1;
    if (comm) std::printf("\nranks %zu (MPI), each with", ranks);
    std::printf(
        "\nthreads %zu (%zu worker(s) per step; backend %s, parallelism %s%s), batch %zu, GEMM "
        "%s\n",
        config.threads, trainer.workers_for((config.batch_size + ranks - 1) / ranks),
        parallel::backend_name(config.backend), parallelism_name(config.parallelism),
        config.deterministic ? ", deterministic" : "", config.batch_size,
        gemm_kernel_description(trainer.config().gemm).c_str());
    if (resumed)
      std::printf("resumed from '%s' after epoch %zu (step %llu)\n",
                  r["resume"].as<std::string>().c_str(), resumed->epochs_done,
                  static_cast<unsigned long long>(resumed->step));
    std::fflush(stdout);
  }

  std::optional<Evaluation> last_test;
  // Weights of the best validation loss. After a resume they are known only if the resumed
  // weights are the best (epochs_since_best == 0).
  std::vector<float> best_params;
  if (resumed && best_val_loss >= 0 && since_best == 0)
    best_params.assign(model.parameters().begin(), model.parameters().end());
  const char* metric = train.classification() ? "acc" : "mse";
  bool stopped_early = false;
  for (std::size_t e = trainer.epochs_done(); e < config.epochs; ++e) {
    if (show_bar) bar.emplace(e + 1, config.epochs, config.batch_size);
    const EpochResult er = trainer.train_epoch(train);
    if (show_bar) ProgressBar::clear();
    std::optional<Evaluation> val_eval;
    if (val) val_eval = trainer.evaluate(*val);
    if (test) last_test = trainer.evaluate(*test);

    if (val_eval && patience) {
      if (best_val_loss < 0 || val_eval->loss < best_val_loss) {
        best_val_loss = val_eval->loss;
        since_best = 0;
        const auto p = model.parameters();
        best_params.assign(p.begin(), p.end());
      } else {
        ++since_best;
      }
    }
    if (!quiet) {
      char buf[160];
      std::string line;
      std::snprintf(buf, sizeof buf, "epoch %zu/%zu  loss %.4f  %s %.4f", er.epoch, config.epochs,
                    er.train_loss, metric, er.train_metric);
      line = buf;
      for (const auto& [name, ev] : {std::pair{"val_", &val_eval}, std::pair{"test_", &last_test}})
        if (*ev) {
          std::snprintf(buf, sizeof buf, "  %sloss %.4f  %s%s %.4f", name, (*ev)->loss, name,
                        (*ev)->metric_name(), (*ev)->metric());
          line += buf;
        }
      std::snprintf(buf, sizeof buf, "  samples/s %.0f  time %.2fs", er.samples_per_second,
                    er.seconds);
      std::printf("%s%s\n", line.c_str(), buf);
      std::fflush(stdout);
    }
    if (log.is_open()) {
      nlohmann::json j = {{"epoch", er.epoch},
                          {"train_loss", er.train_loss},
                          {"train_metric", er.train_metric},
                          {"metric", metric},
                          {"lr", er.learning_rate},
                          {"threads", config.threads},
                          {"backend", parallel::backend_name(config.backend)},
                          {"samples_per_s", er.samples_per_second},
                          {"seconds", er.seconds},
                          {"timestamp", iso_timestamp()}};
      if (val_eval) j["val_loss"] = val_eval->loss, j["val_metric"] = val_eval->metric();
      if (last_test) j["test_loss"] = last_test->loss, j["test_metric"] = last_test->metric();
      log << j.dump() << '\n' << std::flush;
      if (!log) throw Error("cannot write log file '" + r["log"].as<std::string>() + "'");
    }
    if (patience && since_best >= *patience) {
      stopped_early = true;
      break;
    }
    if (save_path && leader) save_checkpoint(*save_path, make_checkpoint());
  }
  if (stopped_early) {
    const bool restored = !best_params.empty();
    if (restored) std::copy(best_params.begin(), best_params.end(), model.parameters().begin());
    if (!quiet)
      std::printf(
          "early stopping after epoch %zu: no better validation loss for %zu epochs; %s "
          "(validation loss %.4f)\n",
          trainer.epochs_done(), *patience,
          restored ? "restored the best weights" : "best weights predate the resume, kept the last",
          best_val_loss);
    if (test) last_test = trainer.evaluate(*test);
  }
  if (save_path && leader) save_checkpoint(*save_path, make_checkpoint());
  if (!leader) return 0;
  if (r.count("profile") && trainer.times().steps > 0) {
    const PhaseTimes& t = trainer.times();
    const double n = double(t.steps);
    std::printf(
        "step time split (mean of %llu steps, rank 0): total %.1f us = forward+backward %.1f us"
        " + reduce+update %.1f us + communication %.1f us + waiting %.1f us\n",
        static_cast<unsigned long long>(t.steps), 1e6 * t.wall / n, 1e6 * t.forward_backward / n,
        1e6 * t.reduce_update / n, 1e6 * t.communication / n, 1e6 * t.waiting() / n);
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
