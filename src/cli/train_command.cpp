// dptrain train: load data, build (or resume) a model, train it with one line per epoch,
// checkpoint it, and print the final params_hash. Reads as: options -> settings, fresh or from
// the checkpoint being resumed, and data (train_settings.hpp) -> model and trainer -> header ->
// epochs (Trainer::fit, printing and logging each epoch from its on_epoch_end callback) -> final
// output (train_summary.hpp).
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "commands.hpp"
#include "data_options.hpp"
#include "dptrain/checkpoint.hpp"
#include "dptrain/dptrain.hpp"
#include "options.hpp"
#include "progress_bar.hpp"
#include "stop_signals.hpp"
#include "train_settings.hpp"
#include "train_summary.hpp"
#include "tune_command.hpp"

namespace dptrain::cli {

namespace {

void add_optimizer_options(cxxopts::Options& options) {
  options.add_options("Optimizer")("optimizer",
                                   "sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lbfgs "
                                   "(full-batch L-BFGS: --epochs is its iteration limit, one line "
                                   "each; --batch-size rows per pass; --l2 only, no schedule)",
                                   cxxopts::value<std::string>()->default_value("adam"))(
      "max-fun", "lbfgs: most loss evaluations (default 15000)", cxxopts::value<std::string>())(
      "tol", "lbfgs: converged when every gradient component is within tol (default 1e-4)",
      cxxopts::value<std::string>())("lr", "Learning rate",
                                     cxxopts::value<std::string>()->default_value("0.001"))(
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
}

cxxopts::Options train_options() {
  cxxopts::Options options("dptrain train", "Train a multilayer perceptron with data parallelism.");
  add_data_options(options, true);
  options.add_options("Data")("normalize",
                              "Feature scaling fitted on the training data: none, standard, minmax",
                              cxxopts::value<std::string>()->default_value("none"))(
      "normalize-target",
      "Regression: standardise the targets (mean and std of the training rows, stored in the "
      "checkpoint; eval and predict answer in the data's units)")(
      "val-split", "Hold out this fraction of the training rows (seeded) for validation",
      cxxopts::value<std::string>());
  options.add_options("Model")("layers", "Widths input,hidden...,output (default 784,128,10)",
                               cxxopts::value<std::string>())(
      "hidden",
      "Hidden widths only, e.g. 128,64: input and output widths from the data and the loss",
      cxxopts::value<std::string>())("activation",
                                     "Hidden activation: relu, leaky_relu, tanh, sigmoid, identity",
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
  add_optimizer_options(options);
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
      cxxopts::value<std::string>())("save-every",
                                     "Also write the checkpoint after every N steps (needs --save)",
                                     cxxopts::value<std::string>())(
      "save-every-seconds",
      "Also write the checkpoint at the first step boundary S seconds after the last one "
      "(needs --save)",
      cxxopts::value<std::string>())(
      "resume",
      "Continue from a checkpoint (its model, optimizer, loss, seed, batch size and "
      "normalisation)",
      cxxopts::value<std::string>())("log",
                                     "Append one JSON object per epoch to this file (JSON lines)",
                                     cxxopts::value<std::string>())(
      "quiet", "Print only the summary line, the final test metric and params_hash")(
      "profile",
      "At the end, print the mean step time split: forward+backward, reduce+update, "
      "communication between ranks, waiting");
  add_engine_options(options);
  add_plan_option(options);
  add_pin_option(options);
  options.add_options()("h,help", "Show this help");

  return options;
}

/// Where the run's output goes besides stdout. Only the leader rank logs and saves.
struct Outputs {
  bool leader = true;
  bool quiet = false;
  std::optional<std::string> save_path;
  std::string log_path;
  LineLog log;  ///< open when --log was given (on the leader)
  /// Step-level checkpoints (--save-every, --save-every-seconds; 0: off): TrainConfig's.
  CheckpointEvery save_every;
  std::span<char* const> args;  ///< the train arguments, for the resume command after a stop
  double load_seconds = 0;      ///< reading the data (the summary line and --log)

  bool step_saves() const {
    return save_path && leader && (save_every.steps || save_every.seconds > 0);
  }
};

/// --save-every N, --save-every-seconds S: checked before any work; both need --save.
void read_step_saves(const cxxopts::ParseResult& r, Outputs& out) {
  for (const char* flag : {"save-every", "save-every-seconds"})
    if (r.count(flag) && !r.count("save"))
      throw Error("--" + std::string(flag) + " needs --save PATH (where to write the checkpoints)");
  if (r.count("save-every"))
    out.save_every.steps = parse_count(r["save-every"].as<std::string>(), "save-every", 1);
  if (r.count("save-every-seconds")) {
    const std::string text = r["save-every-seconds"].as<std::string>();
    out.save_every.seconds = parse_real(text, "save-every-seconds");
    if (!(out.save_every.seconds > 0))
      throw Error("--save-every-seconds must be above 0, got " + text);
  }
}

void open_log(const cxxopts::ParseResult& r, bool resumed, Outputs& out) {
  if (!r.count("log") || !out.leader) return;
  out.log_path = r["log"].as<std::string>();
  out.log.open(out.log_path, resumed);
}

/// The trainer's checkpoint (with its early-stopping state) plus what the CLI knows of the data.
void save_if_asked(Outputs& out, const Trainer& trainer, const TrainData& d) {
  if (!out.save_path || !out.leader) return;
  trainer.check_not_diverged();  // Note [Exploded parameters]: never a checkpoint of those
  Checkpoint c = trainer.checkpoint();
  c.normalizer = d.normalizer;
  c.target_normalizer = d.target_normalizer;
  c.classes = d.train.classes;
  c.data = d.spec;
  save_checkpoint(*out.save_path, c);
}

void print_header(const TrainSettings& s, const TrainData& d, const Model<float>& model,
                  const Trainer& trainer, const Communicator* comm) {
  const TrainConfig& config = s.config;
  // mse: the epoch lines' loss is half the mean squared error, their mse column the whole.
  const bool half = config.loss == Loss::mse;
  const bool scheduled = config.schedule.kind != ScheduleKind::constant;
  std::printf("dptrain %s: model %s, %zu parameters, loss %s%s, optimizer %s (lr %g%s%s)\n",
              version_string, s.spec.describe().c_str(), model.trainable_count(),
              loss_name(config.loss), half ? " (the loss column is ½·MSE)" : "",
              optimizer_name(config.optimizer.kind), config.optimizer.learning_rate,
              scheduled ? ", schedule " : "", scheduled ? schedule_name(config.schedule.kind) : "");
  std::printf("data %s: %zu rows x %zu features", d.train.source.c_str(), d.train.rows,
              d.train.features);
  if (d.val) std::printf("; validation %zu rows", d.val->rows);
  if (d.test) std::printf("; test %s: %zu rows", d.test->source.c_str(), d.test->rows);
  if (d.normalizer.active()) std::printf("; normalize %s", normalization_name(d.normalizer.kind));
  if (config.shuffle_mode == ShuffleMode::window)
    std::printf("; shuffle window: blocks of %zu rows, %zu per window",
                ShuffleWindows(d.train.rows, d.train.features).block_rows,
                ShuffleWindows::kWindowBlocks);
  if (d.target_normalizer.active())
    std::printf(
        "; targets standardised (epoch lines in standard units, the summary and final "
        "test line in the data's)");
  const std::size_t ranks = comm ? std::size_t(comm->size()) : 1;
  if (comm) std::printf("\nranks %zu (MPI), each with", ranks);
  std::printf(
      "\nthreads %zu (%zu worker(s) per step; backend %s, plan %s%s, weight gradients "
      "%s), batch %zu, GEMM %s\n",
      config.threads, trainer.workers_for((config.batch_size + ranks - 1) / ranks),
      backend_name(config.backend), plan_shape(config.plan, config.threads).c_str(),
      config.deterministic ? ", deterministic" : "",
      weight_gradients_name(trainer.engine().weight_gradients()), config.batch_size,
      kernel_text(trainer.config()).c_str());
  std::printf("machine: %s%s\n", machine_topology().describe().c_str(),
              config.pin_cores.empty() ? "" : "; workers pinned to cores");
  if (s.resumed && s.resumed->epoch_progress.steps)
    std::printf("resumed from '%s' in epoch %zu after its step %zu (step %llu)\n",
                s.resume_path.c_str(), s.resumed->epochs_done + 1, s.resumed->epoch_progress.steps,
                static_cast<unsigned long long>(s.resumed->step));
  else if (s.resumed)
    std::printf("resumed from '%s' after epoch %zu (step %llu)\n", s.resume_path.c_str(),
                s.resumed->epochs_done, static_cast<unsigned long long>(s.resumed->step));
  std::fflush(stdout);
  if (s.resumed && s.resumed->epoch_progress.steps && !s.resumed->data_fingerprint.known())
    std::fprintf(stderr,  // Note [Data fingerprint]
                 "dptrain: note: checkpoint '%s' predates data fingerprints: resuming inside its "
                 "epoch cannot check that the data are the rows it was trained on\n",
                 s.resume_path.c_str());
}

/// "epoch 3/10  loss 0.3659  acc 0.8702  test_loss 0.3944  test_acc 0.8638  samples/s ..."; with
/// a schedule that changes the learning rate, "  lr 0.0001" (the rate at the epoch's last step).
void print_epoch_line(const EpochReport& e, std::size_t epochs, const char* metric,
                      const std::optional<Evaluation>& test, bool show_lr) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "epoch %zu/%zu  loss %.4f  %s %.4f", e.train.epoch, epochs,
                e.train.train_loss, metric, e.train.train_metric);
  std::string line = buf;
  for (const auto& [name, ev] : {std::pair{"val_", &e.validation}, std::pair{"test_", &test}})
    if (*ev) {
      std::snprintf(buf, sizeof buf, "  %sloss %.4f  %s%s %.4f", name, (*ev)->loss, name,
                    (*ev)->metric_name(), (*ev)->metric());
      line += buf;
    }
  if (show_lr) {
    std::snprintf(buf, sizeof buf, "  lr %.4g", e.train.learning_rate);
    line += buf;
  }
  if (e.train.evaluations) line += "  evals " + std::to_string(e.train.evaluations);  // lbfgs
  std::snprintf(buf, sizeof buf, "  samples/s %.0f  time %.2fs", e.train.samples_per_second,
                e.train.seconds);
  std::printf("%s%s\n", line.c_str(), buf);
  std::fflush(stdout);
}

/// One JSON line of --log.
void log_epoch(Outputs& out, const EpochReport& e, const TrainConfig& config, const char* metric,
               const std::optional<Evaluation>& test) {
  const EpochResult& er = e.train;
  nlohmann::json j = {{"epoch", er.epoch},
                      {"train_loss", er.train_loss},
                      {"train_metric", er.train_metric},
                      {"metric", metric},
                      {"lr", er.learning_rate},
                      {"schedule", schedule_name(config.schedule.kind)},
                      {"threads", config.threads},
                      {"backend", backend_name(config.backend)},
                      {"gemm", kernel_text(config)},
                      {"weight_gradients", weight_gradients_name(config.plan.weight_gradients)},
                      {"samples_per_s", er.samples_per_second},
                      {"seconds", er.seconds},
                      {"load_seconds", out.load_seconds},
                      {"timestamp", iso_timestamp()}};
  if (e.validation) j["val_loss"] = e.validation->loss, j["val_metric"] = e.validation->metric();
  if (test) j["test_loss"] = test->loss, j["test_metric"] = test->metric();
  out.log.write_line(j.dump());
}

/// After the epochs, on the leader: the step time split (--profile), the final test metric and
/// params_hash.
void print_final(bool profile, const Trainer& trainer, const Model<float>& model,
                 const std::optional<Evaluation>& test) {
  if (profile && trainer.times().steps > 0) {
    const PhaseTimes& t = trainer.times();
    const double n = double(t.steps);
    std::printf(
        "step time split (mean of %llu steps, rank 0): total %.1f us = forward+backward %.1f us"
        " + reduce+update %.1f us + communication %.1f us + waiting %.1f us\n",
        static_cast<unsigned long long>(t.steps), 1e6 * t.wall / n, 1e6 * t.forward_backward / n,
        1e6 * t.reduce_update / n, 1e6 * t.communication / n, 1e6 * t.waiting() / n);
  }
  if (test) {
    if (test->classification)
      std::printf("final test accuracy %.4f\n", test->metric());
    else
      std::printf("final test mse %.6f  rmse %.6f  mae %.6f  r2 %.4f\n", test->regression.mse(),
                  test->regression.rmse(), test->regression.mae(), test->regression.r2());
  }
  std::printf("params_hash=%s\n", hash_hex(params_hash<float>(model.parameters())).c_str());
}

/// config.on_step: the progress bar (on a terminal); config.checkpoint_every: the step-level
/// checkpoints (the last step of an epoch is left to the epoch's own checkpoint, written after
/// its line).
void watch_steps(TrainSettings& s, Outputs& out, const TrainData& d,
                 std::optional<ProgressBar>& bar, const Trainer*& running) {
  if (out.step_saves()) {
    s.config.checkpoint_every = out.save_every;
    s.config.checkpoint_every.sink = [&](const Trainer& t) { save_if_asked(out, t, d); };
  }
  if (out.quiet || !::isatty(STDERR_FILENO)) return;
  s.config.on_step = [&](std::size_t done, std::size_t total) {
    if (!bar) bar.emplace(running->epochs_done() + 1, s.config.epochs, s.config.batch_size);
    bar->update(done, total);
  };
}

/// After a stop (Trainer::fit's `stopped`): the checkpoint of the position reached (with
/// --save), where it stopped and how to resume, on stderr; the exit status 128 + the signal.
int finish_stopped(const Trainer& trainer, const TrainData& d, Outputs& out) {
  if (!out.quiet && ::isatty(STDERR_FILENO)) ProgressBar::clear();
  save_if_asked(out, trainer, d);
  const int status = stop_exit_status(job_communicator());  // collective under MPI
  if (!out.leader) return status;
  const EpochProgress& p = trainer.epoch_progress();
  const std::size_t batch = trainer.config().batch_size;
  std::string where = "after epoch " + std::to_string(trainer.epochs_done());
  if (p.steps)
    where = "in epoch " + std::to_string(trainer.epochs_done() + 1) + " after step " +
            std::to_string(p.steps) + " of " + std::to_string((d.train.rows + batch - 1) / batch);
  std::fprintf(stderr, "dptrain train: stopped by %s %s (step %llu in all)",
               stop_signal_name(received_stop_signal()), where.c_str(),
               static_cast<unsigned long long>(trainer.step_count()));
  if (out.save_path)
    std::fprintf(stderr, "; checkpoint written to '%s'\nresume with%s: %s\n",
                 out.save_path->c_str(), job_communicator() ? " (under mpirun, same ranks)" : "",
                 resume_command(out.args, *out.save_path).c_str());
  else
    std::fprintf(stderr, "; nothing saved (no --save), so it cannot be resumed\n");
  return status;
}

/// Trains the model of `s` on `d`: the header, one line (and log line, and checkpoint) per
/// epoch, early stopping (Trainer::fit), the final checkpoint and output.
int train(const cxxopts::ParseResult& r, TrainSettings& s, const TrainData& d, Outputs& out) {
  std::optional<ProgressBar> bar;
  const Trainer* running = nullptr;
  watch_steps(s, out, d, bar, running);
  Model<float> model(s.spec);
  model.initialize(s.config.seed);
  Trainer trainer(model, s.config);  // resolves --plan auto (tuning::choose_plan)
  s.config.plan = trainer.config().plan;
  if (!trainer.plan_choice().empty() && !out.quiet)
    std::printf("%s\n", trainer.plan_choice().c_str());
  s.config.kernels = trainer.config().kernels;  // Note [Kernel wisdom]: the header, log, checkpoint
  running = &trainer;
  trainer.set_timing(r.count("profile") > 0);
  trainer.check_data(d.train);  // shapes before anything is printed, training set first
  if (d.val) trainer.check_data(*d.val);
  if (d.test) trainer.check_data(*d.test);
  trainer.check_ranks_agree(d.train);  // Note [Ranks]: before anything is printed
  if (d.target_normalizer.active() && s.spec.output_activation() != Activation::identity)
    throw Error("--normalize-target needs an identity output layer (--output identity), not " +
                std::string(activation_name(s.spec.output_activation())));
  if (s.resumed) {
    trainer.restore(*s.resumed);  // with its early-stopping state
    if (s.resumed->classes != d.train.classes)
      throw Error("checkpoint was trained on " + std::to_string(s.resumed->classes) +
                  " classes but data '" + d.train.source + "' has " +
                  std::to_string(d.train.classes));
  }
  open_log(r, s.resumed.has_value(), out);
  if (!out.quiet) print_header(s, d, model, trainer, job_communicator());

  const char* metric = d.train.classification() ? "acc" : "mse";
  std::optional<Evaluation> last_test;
  RunSummary summary;
  summary.load_seconds = out.load_seconds;
  summary.standardised_targets = d.target_normalizer.active();
  FitOptions fit;
  fit.validation = d.val ? &*d.val : nullptr;
  fit.patience = s.patience.value_or(0);
  // Per epoch: the test metric, the epoch line, the log line, and a checkpoint unless early
  // stopping is about to restore other weights (the final checkpoint follows below).
  fit.on_epoch_end = [&](const EpochReport& e) {
    if (bar) ProgressBar::clear(), bar.reset();
    if (d.test) last_test = trainer.evaluate(*d.test);
    if (!out.quiet)
      print_epoch_line(e, s.config.epochs, metric, last_test,
                       s.config.schedule.kind != ScheduleKind::constant);
    summary.add(e);
    if (out.log.is_open()) log_epoch(out, e, s.config, metric, last_test);
    if (!e.stopping) save_if_asked(out, trainer, d);
    return true;
  };
  const FitResult result = trainer.fit(d.train, fit);
  if (result.stopped) return finish_stopped(trainer, d, out);
  if (result.lbfgs && !out.quiet) std::printf("lbfgs: %s\n", result.lbfgs->reason.c_str());
  if (result.stopped_early) {
    if (!out.quiet)
      std::printf(
          "early stopping after epoch %zu: no better validation loss for %zu epochs; %s "
          "(validation loss %.4f)\n",
          trainer.epochs_done(), fit.patience,
          result.restored_best ? "restored the best weights"
                               : "best weights predate the resume, kept the last",
          result.best_validation_loss);
    if (d.test) last_test = trainer.evaluate(*d.test);
  }
  if (d.target_normalizer.active() && d.test) last_test = test_in_data_units(model, d, s.config);
  save_if_asked(out, trainer, d);
  if (!out.leader) return 0;
  print_summary(summary, result, last_test);
  print_final(r.count("profile") > 0, trainer, model, last_test);
  return 0;
}

}  // namespace

int train_command(int argc, char** argv) {
  cxxopts::Options options = train_options();
  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);
  // Note [Ranks]: under MPI every rank trains; rank 0 alone prints, logs and writes checkpoints.
  Communicator* comm = job_communicator();
  Outputs out;
  out.leader = !comm || comm->rank() == 0;
  out.quiet = r.count("quiet") > 0 || !out.leader;
  // Output paths before any work: never a device, FIFO, folder or the input data itself.
  const std::vector<std::string> inputs = input_files(r);
  if (r.count("save")) check_output_path(r["save"].as<std::string>(), "save", inputs);
  if (r.count("log")) check_output_path(r["log"].as<std::string>(), "log", inputs);
  if (r.count("save") && r.count("log"))
    check_distinct_outputs(
        {{"save", r["save"].as<std::string>()}, {"log", r["log"].as<std::string>()}});
  if (r.count("save")) out.save_path = r["save"].as<std::string>();
  read_step_saves(r, out);
  out.args = std::span<char* const>(argv + 1, std::size_t(argc - 1));

  TrainSettings settings = read_train_settings(r, comm);
  // From here SIGINT and SIGTERM stop training at a step boundary (stop_signals.hpp).
  settings.config.stop = &install_stop_signals();
  std::optional<StopEndsProcess> loading(std::in_place);  // nothing written yet: stop at once
  const TrainData data = load_train_data(r, settings, !out.quiet);
  loading.reset();
  out.load_seconds = data.load_seconds;
  if (!settings.resumed) settings.spec = fresh_model_spec(r, settings);
  return train(r, settings, data, out);
}

}  // namespace dptrain::cli
