#pragma once
// The trainer: epochs over a data set on top of the Engine (engine.hpp), the learning-rate
// schedule, the divergence check, early stopping, evaluation between epochs, checkpoints and
// the agreement check between ranks. The engine does the steps; Inference (inference.hpp) the
// forward-only passes.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dptrain/checkpoint.hpp"
#include "dptrain/data.hpp"
#include "dptrain/engine.hpp"
#include "dptrain/inference.hpp"
#include "dptrain/lbfgs.hpp"
#include "dptrain/model.hpp"
#include "dptrain/schedule.hpp"
#include "dptrain/shuffle.hpp"

namespace dptrain {

namespace detail {
class StopVote;  // src/stop_vote.hpp
}

class Trainer;

/// Step-level checkpoints (as dlib's set_synchronization_file): after an epoch's step k (not
/// the epoch's last, whose checkpoint is the caller's, after the epoch's figures) the trainer
/// writes one when k's optimizer step count is a multiple of `steps`, or when `seconds` have
/// passed since the last one (or since the trainer was built or the last epoch ended). Off
/// unless `steps` or `seconds` is set, and `sink` or `path`. A resume from such a checkpoint
/// (restore) continues with the next step, the same bits as an uninterrupted run.
struct CheckpointEvery {
  std::size_t steps = 0;  ///< 0: not by count
  double seconds = 0;     ///< 0: not by time
  /// Receives the trainer at such a boundary (checkpoint() holds the state; add what the
  /// application knows of the data, then write it); called after check_not_diverged().
  std::function<void(const Trainer&)> sink;
  /// Without a sink: the file checkpoint() is written to (save_checkpoint: atomically).
  std::string path;
  bool active() const { return (steps || seconds > 0) && (sink || !path.empty()); }
};

/// The engine's settings (engine.hpp; the epoch loop's epochs, schedule and shuffle are among
/// its RunSettings) plus the trainer's services.
struct TrainConfig : EngineConfig {
  /// Called on the caller's thread after every step with (steps done, steps in the epoch; 0
  /// when unknown, as for a BatchSource), e.g. for a progress bar. Keep it cheap. The trainer's
  /// position already includes the step, so checkpoint() from here resumes after it (this is
  /// how an application can write its own step-level checkpoints; CheckpointEvery does it).
  /// With optimizer lbfgs: after every loss evaluation instead, with (evaluations of the
  /// iteration so far, 0) (Trainer::fit).
  std::function<void(std::size_t, std::size_t)> on_step;
  /// Step-level checkpoints (`dptrain train --save-every`), after on_step.
  CheckpointEvery checkpoint_every;
  /// A stop flag owned by the caller, checked at every step boundary like request_stop() (e.g.
  /// set by a signal handler that exists before the trainer). Not owned; the trainer only reads
  /// it and never clears it, so while it stays set every training call stops at once.
  const std::atomic<bool>* stop = nullptr;
  /// With optimizer lbfgs: max_fun, tol and memory (`epochs` is max_iter). lbfgs refuses
  /// step-level checkpoints and a communicator (validate()).
  LbfgsSettings lbfgs;

  /// Throws dptrain::Error for settings that cannot work (plan auto counts as the data plan).
  void validate() const;
};

struct EpochResult {
  std::size_t epoch = 0;  ///< 1-based
  std::size_t steps = 0;
  double train_loss = 0;          ///< mean data loss over the epoch's samples (before each update)
  double train_metric = 0;        ///< accuracy (classification) or MSE (regression)
  double learning_rate = 0;       ///< at the epoch's last step
  double seconds = 0;             ///< of this call (a resumed epoch: its remaining steps)
  double samples_per_second = 0;  ///< of this call's steps
  /// A stop request ended the call at a step boundary before the epoch's end: the epoch is not
  /// done (epochs_done() unchanged, epoch_progress() says where it stands) and the figures cover
  /// its steps so far. The next train_epoch() continues it.
  bool stopped = false;
  /// L-BFGS (fit() with optimizer lbfgs): each "epoch" is one iteration; train_loss and
  /// train_metric are those of all rows at the point it reached, learning_rate its line-search
  /// step, steps 1 and this its loss evaluations. 0 for the stochastic optimizers.
  std::size_t evaluations = 0;
};

/// Minibatches from the application's own data source (a generator, a database cursor, a
/// stream) instead of a Dataset held in memory. Called on the thread that drives the Trainer.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  /// Called before each epoch (0-based index), e.g. to rewind or reshuffle. Default: nothing.
  virtual void start_epoch(std::size_t epoch) { (void)epoch; }
  /// Fills `batch` with the next minibatch of 1..max_rows rows (features plus labels or targets,
  /// shaped as for training) and returns true; returns false when the epoch is over. `batch` is
  /// the same object every call, so its buffers can be reused.
  virtual bool next_batch(Dataset& batch, std::size_t max_rows) = 0;
  /// The rows the coming epoch will give, called after start_epoch(); 0 (the default) when
  /// unknown. When known, the step and cosine schedules place every step of the epoch exactly
  /// as for a Dataset of that many rows.
  virtual std::size_t rows_per_epoch() const { return 0; }
};

/// What fit() reports after each epoch.
struct EpochReport {
  EpochResult train;
  std::optional<Evaluation> validation;  ///< when FitOptions::validation is set
  bool improved = false;                 ///< early stopping: the best validation loss so far
  bool stopping = false;                 ///< early stopping ends training after this epoch
};

struct FitOptions {
  /// Evaluated after every epoch; not owned, must outlive fit().
  const Dataset* validation = nullptr;
  /// Early stopping: stop after this many epochs without a lower validation loss and restore
  /// the weights of the best epoch. 0: off. Requires `validation`.
  std::size_t patience = 0;
  /// Called after every epoch (after early-stopping bookkeeping); returning false stops.
  std::function<bool(const EpochReport&)> on_epoch_end;
};

struct FitResult {
  std::vector<EpochResult> epochs;  ///< the epochs trained by this call
  bool stopped_early = false;       ///< patience ran out
  /// With early stopping: the weights now in the model are those of the best epoch. False when
  /// the best epoch predates a restore() and its weights are unknown (the last are kept); a
  /// checkpoint from inside an epoch never holds the best epoch's weights.
  bool restored_best = false;
  double best_validation_loss = 0;  ///< with early stopping, when any epoch was validated
  /// A stop request ended training at a step boundary, possibly inside an epoch (not in
  /// `epochs`); epoch_progress() and checkpoint() tell where. fit() again continues from there.
  bool stopped = false;
  /// With optimizer lbfgs: how the run ended (converged or a limit; lbfgs.hpp).
  std::optional<LbfgsResult> lbfgs;
};

/// Sets the settings of the run a checkpoint records (its RunSettings, run_settings.hpp, as a
/// whole; those an older checkpoint lacks keep `config`'s values) and its kernel choice in
/// `config`, leaving the engine's own (threads, backend, plan, precision) as they are: how the
/// CLI's --resume and the Python package continue a checkpoint.
void apply_checkpoint_settings(const Checkpoint& checkpoint, TrainConfig& config);

/// Trains one Model<float> on in-memory data. Driven from one thread; only request_stop() and
/// stop_requested() may be called from any thread (and from a signal handler).
///
/// Stopping: request_stop() (or TrainConfig::stop) ends train_epoch() and fit() at the next
/// step boundary, before any step not yet begun; the epoch's position is kept, checkpoint()
/// records it, and the next call (or a run restored from that checkpoint) continues with the
/// next step, the same bits as if nothing had stopped. With a communicator the ranks agree:
/// all stop after the same step (Note [Stopping across ranks] in src/stop_vote.hpp; the request
/// of any rank counts, and is seen one step later than in a single process).
class Trainer {
 public:
  /// `model` must outlive the trainer. Throws dptrain::Error if the config is invalid or the loss
  /// does not fit the model. Plan auto (plan.hpp) is resolved here by tuning::choose_plan for
  /// the model's layer widths (about a second; config() and plan_choice() tell the outcome),
  /// then gemm auto by the kernel wisdom (Note [Kernel wisdom] in kernel_choice.hpp: read from
  /// the cache, or measured once; config().kernels tells the outcome).
  Trainer(Model<float>& model, TrainConfig config);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// The rest of the current epoch over `data` in its seeded order (the whole epoch unless a
  /// stop or a mid-epoch restore() left it part-done), last partial batch included. Throws
  /// dptrain::Error naming the epoch and step if the loss becomes NaN or infinite (divergence);
  /// the parameters are then unusable, so callers keep their last good checkpoint. Throws
  /// dptrain::Error when a restored mid-epoch position does not fit `data` (another data set).
  EpochResult train_epoch(const Dataset& data);
  /// One epoch over the batches of `source`, each trained as one step. Throws dptrain::Error
  /// for a batch that does not fit the model or is invalid (NaN, labels out of range). The
  /// step and cosine schedules count steps per epoch from the previous epoch (the first epoch
  /// of a BatchSource run uses the base learning rate). A part-done epoch reads and discards
  /// the batches it already trained.
  EpochResult train_epoch(BatchSource& source);

  /// Asks training to stop at the next step boundary. Thread-safe and async-signal-safe (one
  /// lock-free atomic store). Consumed when a training call stops because of it; a request made
  /// while no call runs stops the next one before its first step.
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  /// A request_stop() not yet consumed, or TrainConfig::stop set. Thread-safe.
  bool stop_requested() const noexcept {
    return stop_.load(std::memory_order_relaxed) ||
           (config_.stop && config_.stop->load(std::memory_order_relaxed));
  }

  /// Trains epochs until config().epochs have been done in all (so it continues after
  /// restore()), with validation, early stopping and a callback per epoch (FitOptions). Checks
  /// the data first (check_data), and with a communicator that every rank agrees on the model,
  /// settings and data (check_ranks_agree).
  /// With optimizer lbfgs: L-BFGS iterations (minimize_lbfgs over Engine::loss_gradient on all
  /// rows, batch_size rows per pass) until config().epochs iterations in all, lbfgs.max_fun
  /// evaluations or convergence (lbfgs.tol), each reported as an epoch (EpochResult::
  /// evaluations), with validation and the callback but no early stopping (patience: Error);
  /// TrainConfig::on_step is called after every loss evaluation with (evaluations of the
  /// iteration so far, 0), and a stop request is honoured at the end of an iteration.
  /// After a restore() the iterations continue from the checkpoint's parameters with a fresh
  /// L-BFGS memory (the correction pairs are not checkpointed). train_epoch() and step() refuse
  /// lbfgs (Error).
  FitResult fit(const Dataset& train, const FitOptions& options);
  /// The same with only a callback; returning false stops. Returns the epochs trained.
  std::vector<EpochResult> fit(const Dataset& train,
                               const std::function<bool(const EpochResult&)>& on_epoch_end = {});

  /// Loss and metrics of the current parameters over all of `data` (no dropout), on the
  /// trainer's pool (inference.hpp).
  Evaluation evaluate(const Dataset& data);
  /// Outputs f(logits) for every row of `data` (see Inference::predict).
  std::vector<float> predict(const Dataset& data);

  /// One synchronous step on rows `rows` of `data` as step step_count() + 1, at the schedule's
  /// learning rate (Engine::step states the preconditions).
  StepStats step(const Dataset& data, std::span<const std::uint32_t> rows);
  using StepResult = StepStats;

  /// Throws dptrain::Error naming the data set when its shape does not fit the model and loss.
  void check_data(const Dataset& data) const;
  /// With a communicator: throws dptrain::Error naming the ranks whose model, settings or
  /// training data differ from rank 0's (collective: every rank calls it). Else does nothing.
  /// fit() calls it unless it already passed for this trainer.
  void check_ranks_agree(const Dataset& train) const;

  const TrainConfig& config() const { return config_; }
  /// choose_plan's line when the config asked for plan auto; empty otherwise.
  const std::string& plan_choice() const { return plan_choice_; }
  Model<float>& model() { return engine_.model(); }
  Engine& engine() { return engine_; }
  const Engine& engine() const { return engine_; }
  std::size_t epochs_done() const { return epochs_done_; }
  /// Where the current epoch (epochs_done() + 1) stands; zero at an epoch boundary. Kept by a
  /// stop request (and in checkpoints); a training call that ends by an exception (divergence,
  /// a bad batch, an on_step callback that throws) abandons the part-done epoch instead.
  const EpochProgress& epoch_progress() const { return progress_; }
  /// Abandons a part-done epoch (e.g. after a stop, to train on other data next): the next
  /// train_epoch() starts epoch epochs_done() + 1 at its first step. The steps already taken
  /// stay in the parameters and in step_count().
  void abandon_epoch();
  /// Throws Error (topic divergence) when training has diverged although every step's loss was
  /// finite: a parameter NaN, infinite or beyond kMaxParameterMagnitude, or a NaN or infinite
  /// optimizer state value (Note [Exploded parameters]). Every epoch ends with this check;
  /// call it before writing a checkpoint taken inside an epoch.
  void check_not_diverged() const;
  std::uint64_t step_count() const { return engine_.step_count(); }
  std::size_t workers_for(std::size_t rows) const { return engine_.workers_for(rows); }
  std::size_t workspace_bytes(std::size_t worker) const { return engine_.workspace_bytes(worker); }
  std::size_t gradient_buffer_bytes() const { return engine_.gradient_buffer_bytes(); }

  /// Fills the training-state part of a checkpoint: parameters, optimizer state, position (with
  /// the part-done epoch's progress), early-stopping state, the settings that define the run and
  /// the schema and fingerprint of the data last trained on (Dataset::schema, Note [Data
  /// fingerprint]; the caller adds normalisation and the data description).
  Checkpoint checkpoint() const;
  /// Writes the current model as ONNX (onnx_export.hpp) to `path`, atomically, with the
  /// normalisation the caller applied to the data (the trainer sees only normalised data); the
  /// same graph as `dptrain export` of checkpoint() with those normalisers. Throws
  /// dptrain::Error as export_onnx does. Defined in src/onnx_export.cpp.
  void export_onnx(const std::string& path, const Normalizer& normalizer = {},
                   const TargetNormalizer& target = {}) const;
  /// Continues from a checkpoint of the same architecture and optimizer: copies parameters,
  /// optimizer state, the epoch and step position (inside an epoch too), the data fingerprint
  /// and the early-stopping state. Throws dptrain::Error on a mismatch; the next train_epoch
  /// throws when a mid-epoch position was recorded on other data (Note [Data fingerprint]).
  void restore(const Checkpoint& c);

  void set_timing(bool on) { engine_.set_timing(on); }
  const PhaseTimes& times() const { return engine_.times(); }
  void reset_times() { engine_.reset_times(); }

 private:
  /// step() inside an epoch: divergence check (naming epoch and step), progress, the stop vote
  /// across ranks, on_step.
  void epoch_step(const Dataset& data, std::span<const std::uint32_t> rows, std::size_t steps);
  /// At a step boundary: whether to stop (agreed by every rank with a communicator). `first`:
  /// the call's first boundary, where ranks vote on their own.
  bool stop_here(bool first);
  /// The shuffled order of epoch epochs_done() + 1 over the rows of `data` into order_ (and,
  /// with ShuffleMode::window, its blocks and windows into windows_).
  void shuffle_order(const Dataset& data);
  /// Throws Error when a restored mid-epoch position does not fit `data`: its step count, or
  /// a recorded fingerprint other than `now` (Note [Data fingerprint]).
  void check_progress_fits(const Dataset& data, const DataFingerprint& now) const;
  /// The epoch's figures from progress_ (steps since `samples0` timed from `t0`).
  EpochResult epoch_result(std::size_t samples0, std::chrono::steady_clock::time_point t0) const;
  EpochResult finish_epoch(std::size_t samples0, std::chrono::steady_clock::time_point t0);
  EpochResult stopped_epoch(std::size_t samples0, std::chrono::steady_clock::time_point t0);
  double current_lr() const;
  /// fit() for optimizer lbfgs (src/trainer_lbfgs.cpp).
  FitResult fit_lbfgs(const Dataset& train, const FitOptions& options);
  /// Early stopping after an epoch: updates the best loss and weights; true when patience ran out.
  bool track_validation(const Evaluation& validation, std::size_t patience, EpochReport& report);

  /// `config` with plan auto resolved (tuning::choose_plan; its line into `choice`), then gemm
  /// auto (resolve_automatic_gemm, kernel_choice.hpp).
  static TrainConfig resolved(const Model<float>& model, TrainConfig config, std::string& choice);
  /// After step `done` of `total` in an epoch: a CheckpointEvery checkpoint when one is due.
  void checkpoint_if_due(std::size_t done, std::size_t total);

  std::string plan_choice_;  // before config_, whose initialisation writes it
  TrainConfig config_;
  std::chrono::steady_clock::time_point last_checkpoint_ = std::chrono::steady_clock::now();
  std::atomic<bool> stop_{false};
  std::unique_ptr<detail::StopVote> vote_;  // with a communicator; the engine sums through it
  Engine engine_;
  Inference inference_;
  std::vector<std::uint32_t> order_;  // the epoch's row order
  WindowedOrder windows_;             // its blocks and windows (ShuffleMode::window; rows moved)
  std::size_t epochs_done_ = 0;
  std::size_t steps_per_epoch_ = 0;
  EpochProgress progress_;  // of epoch epochs_done_ + 1
  // Early stopping: the best validation loss (< 0: none yet), epochs since, and its weights
  // (empty when unknown, e.g. the best epoch predates a restore()).
  double best_validation_loss_ = -1;
  std::size_t epochs_since_best_ = 0;
  std::vector<float> best_parameters_;
  mutable bool ranks_agree_ = false;  // check_ranks_agree passed
  std::size_t classes_ = 0;           // of the data trained on (0: regression), for checkpoints
  DataSchema schema_;                 // of the data trained on, for checkpoints
  DataFingerprint fingerprint_;       // of the data trained on (or restored), for checkpoints
  FingerprintCache fingerprints_;
};

}  // namespace dptrain
