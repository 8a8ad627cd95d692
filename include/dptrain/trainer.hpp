#pragma once
// The trainer: epochs over a data set on top of the Engine (engine.hpp), the learning-rate
// schedule, the divergence check, early stopping, evaluation between epochs, checkpoints and
// the agreement check between ranks. The engine does the steps; Inference (inference.hpp) the
// forward-only passes.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dptrain/checkpoint.hpp"
#include "dptrain/data.hpp"
#include "dptrain/engine.hpp"
#include "dptrain/inference.hpp"
#include "dptrain/model.hpp"
#include "dptrain/schedule.hpp"

namespace dptrain {

/// The engine's settings (engine.hpp) plus the epoch loop's.
struct TrainConfig : EngineConfig {
  std::size_t epochs = 10;
  ScheduleConfig schedule;
  bool shuffle = true;
  /// Called on the caller's thread after every step with (steps done, steps in the epoch), e.g.
  /// for a progress bar. Keep it cheap.
  std::function<void(std::size_t, std::size_t)> on_step;

  /// Throws dptrain::Error for settings that cannot work.
  void validate() const;
};

struct EpochResult {
  std::size_t epoch = 0;  ///< 1-based
  std::size_t steps = 0;
  double train_loss = 0;     ///< mean data loss over the epoch's samples (before each update)
  double train_metric = 0;   ///< accuracy (classification) or MSE (regression)
  double learning_rate = 0;  ///< at the epoch's last step
  double seconds = 0;
  double samples_per_second = 0;
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
  /// the best epoch predates a restore() and its weights are unknown (the last are kept).
  bool restored_best = false;
  double best_validation_loss = 0;  ///< with early stopping, when any epoch was validated
};

/// Trains one Model<float> on in-memory data. Not thread-safe: drive it from one thread.
class Trainer {
 public:
  /// `model` must outlive the trainer. Throws dptrain::Error if the config is invalid or the loss
  /// does not fit the model.
  Trainer(Model<float>& model, TrainConfig config);
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// One pass over `data` in the epoch's seeded order, last partial batch included. Throws
  /// dptrain::Error naming the epoch and step if the loss becomes NaN or infinite (divergence);
  /// the parameters are then unusable, so callers keep their last good checkpoint.
  EpochResult train_epoch(const Dataset& data);
  /// One epoch over the batches of `source`, each trained as one step. Throws dptrain::Error
  /// for a batch that does not fit the model or is invalid (NaN, labels out of range). The
  /// step and cosine schedules count steps per epoch from the previous epoch (the first epoch
  /// of a BatchSource run uses the base learning rate).
  EpochResult train_epoch(BatchSource& source);

  /// Trains epochs until config().epochs have been done in all (so it continues after
  /// restore()), with validation, early stopping and a callback per epoch (FitOptions). Checks
  /// the data first (check_data), and with a communicator that every rank agrees on the model,
  /// settings and data (check_ranks_agree).
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
  Model<float>& model() { return engine_.model(); }
  Engine& engine() { return engine_; }
  const Engine& engine() const { return engine_; }
  std::size_t epochs_done() const { return epochs_done_; }
  std::uint64_t step_count() const { return engine_.step_count(); }
  std::size_t workers_for(std::size_t rows) const { return engine_.workers_for(rows); }
  std::size_t workspace_bytes(std::size_t worker) const { return engine_.workspace_bytes(worker); }
  std::size_t gradient_buffer_bytes() const { return engine_.gradient_buffer_bytes(); }

  /// Fills the training-state part of a checkpoint: parameters, optimizer state, position,
  /// early-stopping state, the settings that define the run and the schema of the data last
  /// trained on (Dataset::schema; the caller adds normalisation and the data description).
  Checkpoint checkpoint() const;
  /// Continues from a checkpoint of the same architecture and optimizer: copies parameters,
  /// optimizer state, the epoch and step position and the early-stopping state. Throws
  /// dptrain::Error on a mismatch.
  void restore(const Checkpoint& c);

  void set_timing(bool on) { engine_.set_timing(on); }
  const PhaseTimes& times() const { return engine_.times(); }
  void reset_times() { engine_.reset_times(); }

 private:
  /// Sums of one epoch's steps.
  struct EpochTally {
    std::size_t steps = 0, samples = 0, metric_values = 0;
    double loss_sum = 0, metric_sum = 0;
    void add(const StepStats& r, const Dataset& batch, std::size_t rows);
  };
  /// step() inside an epoch: divergence check (naming epoch and step) and on_step.
  StepStats epoch_step(const Dataset& data, std::span<const std::uint32_t> rows, std::size_t index,
                       std::size_t steps);
  EpochResult finish_epoch(const EpochTally& tally, std::chrono::steady_clock::time_point t0);
  double current_lr() const;
  /// Early stopping after an epoch: updates the best loss and weights; true when patience ran out.
  bool track_validation(const Evaluation& validation, std::size_t patience, EpochReport& report);

  TrainConfig config_;
  Engine engine_;
  Inference inference_;
  std::vector<std::uint32_t> order_;  // the epoch's row order
  std::size_t epochs_done_ = 0;
  std::size_t steps_per_epoch_ = 0;
  // Early stopping: the best validation loss (< 0: none yet), epochs since, and its weights
  // (empty when unknown, e.g. the best epoch predates a restore()).
  double best_validation_loss_ = -1;
  std::size_t epochs_since_best_ = 0;
  std::vector<float> best_parameters_;
  mutable bool ranks_agree_ = false;  // check_ranks_agree passed
  std::size_t classes_ = 0;           // of the data trained on (0: regression), for checkpoints
  DataSchema schema_;                 // of the data trained on, for checkpoints
};

}  // namespace dptrain
