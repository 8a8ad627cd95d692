#include "dptrain/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <numeric>
#include <string>

#include "dptrain/error.hpp"
#include "dptrain/hash.hpp"
#include "dptrain/kernel_choice.hpp"
#include "dptrain/limits.hpp"
#include "dptrain/rng.hpp"
#include "shuffle_prefetch.hpp"
#include "stop_vote.hpp"

namespace dptrain {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Evaluation chunks: big enough for efficient products, small enough to bound memory.
constexpr std::size_t kInferenceChunkRows = 256;

// request_stop() is called from signal handlers: the flag must not hide a lock.
static_assert(std::atomic<bool>::is_always_lock_free);

/// The engine's settings: `c`, validated, summing across ranks through `vote` when there is one
/// (Note [Stopping across ranks]).
EngineConfig engine_config(const TrainConfig& c, Communicator* vote) {
  c.validate();
  EngineConfig e = c;
  if (vote) e.communicator = vote;
  return e;
}

/// Abandons the part-done epoch when a training call ends by an exception (divergence, bad
/// batch, or an on_step callback that throws, as the Python binding's Ctrl-C does): the next
/// call starts a fresh epoch, as before positions were kept. A stop request keeps the position.
class AbandonOnThrow {
 public:
  explicit AbandonOnThrow(EpochProgress& p) : p_(p), exceptions_(std::uncaught_exceptions()) {}
  ~AbandonOnThrow() {
    if (std::uncaught_exceptions() > exceptions_) p_ = {};
  }
  AbandonOnThrow(const AbandonOnThrow&) = delete;
  AbandonOnThrow& operator=(const AbandonOnThrow&) = delete;

 private:
  EpochProgress& p_;
  int exceptions_;
};

void add_step(EpochProgress& p, const StepStats& r, const Dataset& batch, std::size_t rows) {
  ++p.steps;
  p.samples += rows;
  p.metric_values += batch.classification() ? rows : rows * batch.target_width;
  p.loss_sum += r.loss_sum;
  p.metric_sum += r.metric_sum;
}
}  // namespace

Trainer::Trainer(Model<float>& model, TrainConfig config)
    : config_(resolved(model, std::move(config), plan_choice_)),
      vote_(config_.communicator ? std::make_unique<detail::StopVote>(
                                       *config_.communicator, [this] { return stop_requested(); })
                                 : nullptr),
      engine_(model, engine_config(config_, vote_.get())),
      inference_(model.spec(),
                 InferenceOptions{&engine_.evaluation_pool(), kInferenceChunkRows, config_.gemm,
                                  config_.kernels, config_.min_flops_per_worker}) {}

Trainer::~Trainer() = default;

void Trainer::check_data(const Dataset& data) const {
  engine_.check_data(data);
}

void Trainer::check_ranks_agree(const Dataset& train) const {
  Communicator* comm = config_.communicator;
  if (!comm || ranks_agree_) return;
  const TrainConfig& c = config_;
  // Ranks that disagree on the model, the settings or the data fail fast, before training.
  const std::string settings = engine_.model().spec().describe() + "|" + describe(c) + "|" +
                               std::to_string(train.rows) + "|" + std::to_string(train.features) +
                               "|" + std::to_string(train.classes);
  std::uint64_t fp = hash_bytes(settings.data(), settings.size());
  const std::span<const float> values = train.feature_values();
  fp ^= hash_bytes(values.data(), values.size_bytes()) * 3;
  fp ^= hash_bytes(train.labels.data(), train.labels.size() * sizeof(std::int32_t)) * 5;
  fp ^= hash_bytes(train.targets.data(), train.targets.size() * sizeof(float)) * 7;
  comm->check_agreement(fp, "the model, the training settings or the training data");
  ranks_agree_ = true;
}

double Trainer::current_lr() const {
  // Until an epoch has told the steps per epoch (steps driven by hand, or the first epoch of a
  // BatchSource), the schedule cannot place the step: use the base rate.
  if (!steps_per_epoch_) return config_.optimizer.learning_rate;
  return learning_rate_at(config_.schedule, config_.optimizer.learning_rate, step_count(),
                          steps_per_epoch_, steps_per_epoch_ * config_.epochs);
}

StepStats Trainer::step(const Dataset& data, std::span<const std::uint32_t> rows) {
  return engine_.step(data, rows, current_lr());
}

Evaluation Trainer::evaluate(const Dataset& data) {
  return inference_.evaluate(engine_.model(), data, config_.loss);
}

std::vector<float> Trainer::predict(const Dataset& data) {
  return inference_.predict(engine_.model(), data);
}

void apply_checkpoint_settings(const Checkpoint& c, TrainConfig& config) {
  const RunSettings own = config;
  static_cast<RunSettings&>(config) = c;  // the run's settings as a whole (Note [Run settings])
  for (const std::string& key : c.unrecorded) copy_setting(key, own, config);
  apply_recorded_kernels(c.kernels, config);
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c;
  c.spec = engine_.model().spec();
  const auto params = engine_.model().parameters();
  c.parameters.assign(params.begin(), params.end());
  static_cast<RunSettings&>(c) = config_;  // as a whole (Note [Run settings])
  c.epochs_done = epochs_done_;
  c.step = step_count();
  c.epoch_progress = progress_;
  c.kernels = recorded_kernels(config_, engine_.weight_gradients());
  const auto s0 = engine_.optimizer().state(0), s1 = engine_.optimizer().state(1);
  c.state0.assign(s0.begin(), s0.end());
  c.state1.assign(s1.begin(), s1.end());
  c.best_validation_loss = best_validation_loss_;
  c.epochs_since_best = epochs_since_best_;
  c.classes = classes_;
  c.schema = schema_;
  c.data_fingerprint = fingerprint_;
  if (c.schema.task == Task::unknown && c.step > 0)
    c.schema.task = classes_ > 0 ? Task::classification : Task::regression;
  return c;
}

void Trainer::restore(const Checkpoint& c) {
  const ModelSpec& spec = engine_.model().spec();
  if (c.spec.describe() != spec.describe() || c.spec.inputs != spec.inputs)
    throw Error("checkpoint model " + c.spec.describe() + " does not match this model " +
                spec.describe());
  if (c.optimizer.kind != config_.optimizer.kind)
    throw Error(std::string("checkpoint optimizer ") + optimizer_name(c.optimizer.kind) +
                " does not match " + optimizer_name(config_.optimizer.kind));
  const auto params = engine_.model().parameters();
  if (c.parameters.size() != params.size())
    throw Error("checkpoint parameter count does not match");
  OptimizerState<float>& opt = engine_.optimizer();
  const auto s0 = opt.state(0), s1 = opt.state(1);
  if (c.state0.size() != s0.size() || c.state1.size() != s1.size())
    throw Error("checkpoint optimizer state does not match");
  std::copy(c.parameters.begin(), c.parameters.end(), params.begin());
  std::copy(c.state0.begin(), c.state0.end(), s0.begin());
  std::copy(c.state1.begin(), c.state1.end(), s1.begin());
  opt.set_step(c.step);
  engine_.parameters_changed();
  epochs_done_ = c.epochs_done;
  progress_ = c.epoch_progress;
  classes_ = c.classes;
  schema_ = c.schema;
  fingerprint_ = c.data_fingerprint;
  best_validation_loss_ = c.best_validation_loss;
  epochs_since_best_ = c.epochs_since_best;
  // The best weights are known only when the checkpoint's own weights are the best: taken at
  // the end of the best epoch, not inside the epoch after it (a step-level checkpoint).
  best_parameters_.clear();
  if (best_validation_loss_ >= 0 && epochs_since_best_ == 0 && progress_.steps == 0)
    best_parameters_ = c.parameters;
}

void Trainer::shuffle_order(const Dataset& data) {
  // The epoch's order is a pure function of (seed, epoch): resumable and thread-count free.
  if (config_.shuffle && config_.shuffle_mode == ShuffleMode::window) {
    const ShuffleWindows layout(data.rows, data.features, config_.shuffle_block_rows);
    windows_ = windowed_order(layout, config_.seed, epochs_done_);
    order_ = std::move(windows_.rows);
  } else {
    full_order(order_, data.rows, config_.shuffle, config_.seed, epochs_done_);
  }
}

void Trainer::check_progress_fits(const Dataset& data, const DataFingerprint& now) const {
  // Only full batches precede the last one, so a position restored for this data set has
  // fewer steps than the epoch and batch_size rows per step.
  const EpochProgress& p = progress_;
  if (p.steps == 0) return;
  const std::string other =
      fingerprint_.known() ? fingerprint_difference(fingerprint_, now, data.source) : "";
  if (!other.empty())
    throw Error("the restored position (epoch " + std::to_string(epochs_done_ + 1) + ", " +
                std::to_string(p.steps) + " steps done) was counted on other data: " + other +
                ". Resume on the same training rows (the same data, test split, limit and "
                "validation split), or from a checkpoint written at an epoch boundary");
  if (p.steps >= steps_per_epoch_ || p.samples != p.steps * config_.batch_size)
    throw Error("the restored position (epoch " + std::to_string(epochs_done_ + 1) + ", " +
                std::to_string(p.steps) + " steps and " + std::to_string(p.samples) +
                " rows done) does not fit data '" + data.source + "', whose epoch is " +
                std::to_string(steps_per_epoch_) + " steps of up to " +
                std::to_string(config_.batch_size) +
                " rows: resume on the data the checkpoint was trained on");
}

EpochResult Trainer::train_epoch(const Dataset& data) {
  // Once per call rather than per step (gemm.hpp): OpenBLAS stays single-threaded throughout.
  const OpenBlasSingleThreaded openblas_one_thread(config_.gemm);
  check_data(data);
  classes_ = data.classes;
  if (!data.schema.empty()) schema_ = data.schema;
  const DataFingerprint now = fingerprints_.of(data);  // once per data set, before the clock
  const auto t0 = Clock::now();
  const std::size_t n = data.rows, batch = config_.batch_size, samples0 = progress_.samples;
  shuffle_order(data);
  steps_per_epoch_ = (n + batch - 1) / batch;
  check_progress_fits(data, now);
  fingerprint_ = now;
  const AbandonOnThrow guard(progress_);
  if (n % batch) engine_.prepare(n % batch);  // the last step's kernels, before the first step
  // A part-done epoch (a stop, a mid-epoch checkpoint) skips the batches it already trained.
  const std::size_t first = progress_.steps;
  const auto prefetch = detail::window_prefetcher(
      data, config_.shuffle && config_.shuffle_mode == ShuffleMode::window, windows_,
      ShuffleWindows(n, data.features, config_.shuffle_block_rows).block_rows);
  for (std::size_t s = first; s < steps_per_epoch_; ++s) {
    if (stop_here(s == first)) return stopped_epoch(samples0, t0);
    const std::size_t begin = s * batch, end = std::min(n, begin + batch);
    if (prefetch) prefetch->at(begin);
    epoch_step(data, std::span<const std::uint32_t>(order_).subspan(begin, end - begin),
               steps_per_epoch_);
  }
  return finish_epoch(samples0, t0);
}

EpochResult Trainer::train_epoch(BatchSource& source) {
  // Once per call rather than per step (gemm.hpp): OpenBLAS stays single-threaded throughout.
  const OpenBlasSingleThreaded openblas_one_thread(config_.gemm);
  const auto t0 = Clock::now();
  const std::size_t samples0 = progress_.samples;
  const AbandonOnThrow guard(progress_);
  fingerprint_ = {};  // streamed batches: unknown
  source.start_epoch(epochs_done_);
  if (const std::size_t n = source.rows_per_epoch())
    steps_per_epoch_ = (n + config_.batch_size - 1) / config_.batch_size;
  Dataset batch;
  std::vector<std::uint32_t> rows;
  for (std::size_t s = 0; s < progress_.steps; ++s)
    if (!source.next_batch(batch, config_.batch_size))
      throw Error("batch source gave " + std::to_string(s) + " batches for epoch " +
                  std::to_string(epochs_done_ + 1) + ", of which the restored position had " +
                  "already trained " + std::to_string(progress_.steps));
  for (bool first = true;; first = false) {
    if (stop_here(first)) return stopped_epoch(samples0, t0);
    if (!source.next_batch(batch, config_.batch_size)) break;
    if (batch.rows == 0 || batch.rows > config_.batch_size)
      throw Error("batch source gave " + std::to_string(batch.rows) + " rows; a batch holds 1 to " +
                  std::to_string(config_.batch_size));
    batch.validate();
    check_data(batch);
    classes_ = batch.classes;
    if (!batch.schema.empty()) schema_ = batch.schema;
    rows.resize(batch.rows);
    std::iota(rows.begin(), rows.end(), 0u);
    epoch_step(batch, rows, 0);
  }
  if (progress_.steps == 0)
    throw Error("batch source gave no batches for epoch " + std::to_string(epochs_done_ + 1));
  return finish_epoch(samples0, t0);
}

void Trainer::abandon_epoch() {
  progress_ = {};
}

bool Trainer::stop_here(bool first) {
  if (!vote_) return stop_requested();
  // Note [Stopping across ranks]: the vote folded into the previous step's sums, or one of our
  // own at a call's first boundary.
  if (first) vote_->vote_now();
  return vote_->agreed();
}

void Trainer::epoch_step(const Dataset& data, std::span<const std::uint32_t> rows,
                         std::size_t steps) {
  const std::uint64_t votes = vote_ ? vote_->votes() : 0;
  const StepStats r = step(data, rows);
  if (!std::isfinite(r.loss_sum))
    throw Error("training diverged: the loss is " +
                std::string(std::isnan(r.loss_sum) ? "NaN" : "infinite") + " at epoch " +
                std::to_string(epochs_done_ + 1) + ", step " + std::to_string(progress_.steps + 1) +
                " (try a lower learning rate or normalised features)");
  add_step(progress_, r, data, rows.size());
  if (vote_ && vote_->votes() == votes) vote_->vote_now();  // the step summed nothing for us
  if (config_.on_step) config_.on_step(progress_.steps, steps);
  checkpoint_if_due(progress_.steps, steps);
}

EpochResult Trainer::epoch_result(std::size_t samples0, Clock::time_point t0) const {
  const EpochProgress& p = progress_;
  EpochResult e;
  e.epoch = epochs_done_ + 1;
  e.steps = p.steps;
  e.train_loss = p.samples ? p.loss_sum / double(p.samples) : 0;
  e.train_metric = p.metric_values ? p.metric_sum / double(p.metric_values) : 0;
  const std::size_t per_epoch = steps_per_epoch_ ? steps_per_epoch_ : p.steps;
  e.learning_rate = step_count() == 0 || per_epoch == 0
                        ? config_.optimizer.learning_rate
                        : learning_rate_at(config_.schedule, config_.optimizer.learning_rate,
                                           step_count() - 1, per_epoch, per_epoch * config_.epochs);
  e.seconds = seconds_since(t0);
  e.samples_per_second = e.seconds > 0 ? double(p.samples - samples0) / e.seconds : 0;
  return e;
}

void Trainer::check_not_diverged() const {
  const auto params = engine_.model().parameters();
  std::string what;
  char text[96];
  if (const std::size_t i = first_unusable(params, kMaxParameterMagnitude); i < params.size()) {
    std::snprintf(text, sizeof text, "parameter %zu is %g", i, double(params[i]));
    what = text;
    if (std::isfinite(params[i])) {
      std::snprintf(text, sizeof text, " (beyond the limit of %g: exploded)",
                    kMaxParameterMagnitude);
      what += text;
    }
  }
  for (std::size_t slot = 0; slot < 2 && what.empty(); ++slot) {
    const auto state = engine_.optimizer().state(slot);
    if (const std::size_t i = first_unusable(state); i < state.size())
      what = "the optimizer state of parameter " + std::to_string(i) + " is " +
             (std::isnan(state[i]) ? "NaN" : "infinite");
  }
  if (what.empty()) return;
  const std::string where = progress_.steps ? "at epoch " + std::to_string(epochs_done_ + 1) +
                                                  ", step " + std::to_string(progress_.steps)
                                            : "after epoch " + std::to_string(epochs_done_);
  throw Error("training diverged " + where + ": " + what +
                  "; the model is not saved (the last checkpoint written stays the last good one)",
              ErrorTopic::divergence);
}

EpochResult Trainer::finish_epoch(std::size_t samples0, Clock::time_point t0) {
  check_not_diverged();             // Note [Exploded parameters]: before anyone saves this epoch
  last_checkpoint_ = Clock::now();  // CheckpointEvery::seconds: the caller saves epochs
  steps_per_epoch_ = progress_.steps;
  const EpochResult e = epoch_result(samples0, t0);
  ++epochs_done_;
  progress_ = {};
  return e;
}

EpochResult Trainer::stopped_epoch(std::size_t samples0, Clock::time_point t0) {
  EpochResult e = epoch_result(samples0, t0);
  e.stopped = true;
  stop_.store(false, std::memory_order_relaxed);  // consumed
  if (vote_) vote_->clear();
  return e;
}

bool Trainer::track_validation(const Evaluation& validation, std::size_t patience,
                               EpochReport& report) {
  if (best_validation_loss_ < 0 || validation.loss < best_validation_loss_) {
    best_validation_loss_ = validation.loss;
    epochs_since_best_ = 0;
    const auto p = engine_.model().parameters();
    best_parameters_.assign(p.begin(), p.end());
    report.improved = true;
  } else {
    ++epochs_since_best_;
  }
  return epochs_since_best_ >= patience;
}

FitResult Trainer::fit(const Dataset& train, const FitOptions& options) {
  // Once per call rather than per step (gemm.hpp): OpenBLAS stays single-threaded throughout.
  const OpenBlasSingleThreaded openblas_one_thread(config_.gemm);
  if (options.patience && !options.validation)
    throw Error("early stopping (patience " + std::to_string(options.patience) +
                ") needs a validation set");
  if (config_.optimizer.kind == OptimizerKind::lbfgs) return fit_lbfgs(train, options);
  check_data(train);
  if (options.validation) check_data(*options.validation);
  check_ranks_agree(train);
  FitResult result;
  while (epochs_done_ < config_.epochs) {
    EpochReport report;
    report.train = train_epoch(train);
    if (report.train.stopped) {
      result.stopped = true;
      break;
    }
    result.epochs.push_back(report.train);
    if (options.validation) report.validation = evaluate(*options.validation);
    if (options.patience)
      report.stopping = track_validation(*report.validation, options.patience, report);
    const bool go_on = !options.on_epoch_end || options.on_epoch_end(report);
    result.stopped_early = report.stopping;
    if (report.stopping || !go_on) break;
  }
  if (result.stopped_early && !best_parameters_.empty()) {
    std::copy(best_parameters_.begin(), best_parameters_.end(),
              engine_.model().parameters().begin());
    engine_.parameters_changed();
    result.restored_best = true;
  }
  result.best_validation_loss = best_validation_loss_;
  return result;
}

std::vector<EpochResult> Trainer::fit(const Dataset& train,
                                      const std::function<bool(const EpochResult&)>& on_epoch_end) {
  FitOptions options;
  if (on_epoch_end)
    options.on_epoch_end = [&](const EpochReport& r) { return on_epoch_end(r.train); };
  return fit(train, options).epochs;
}

}  // namespace dptrain
