#pragma once
// The training engine: synchronous data parallelism over a persistent worker pool.
//
// Note [The step]. A minibatch of B rows (a slice of the epoch's shuffled order) is cut into
// units: one contiguous shard per worker, or, with `deterministic`, a fixed number of
// micro-batches independent of the thread count. Each worker gathers its unit's rows into its
// private workspace, runs forward, loss and backward against the shared read-only parameters and
// writes the unit's gradient into the unit's own buffer (already scaled by 1/B). After the join,
// the parameter index space is cut into cache-line-aligned slices, one per worker; worker j sums
// slice j of every unit's gradient in unit order and applies the optimizer to that slice of the
// parameters and optimizer state in the same pass (fused reduce-scatter + update; parameters are
// shared, so there is nothing to all-gather). The next step starts after that join. Because the
// reduction order is fixed by the units, a run is bitwise reproducible for a given thread count;
// with `deterministic` the units do not depend on the thread count, so neither do the bits.
//
// Note [When to fork]. Forking and joining costs a few microseconds per phase, a waste on tiny
// models: a step uses W = clamp(floor(flops(B) / kMinFlopsPerWorker), 1, threads) workers, where
// flops(B) = B * model.flops_per_sample(). With W = 1 everything runs inline on the caller.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dptrain/checkpoint.hpp"
#include "dptrain/data.hpp"
#include "dptrain/distributed.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/loss.hpp"
#include "dptrain/metrics.hpp"
#include "dptrain/model.hpp"
#include "dptrain/optimizer.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/schedule.hpp"

namespace dptrain {

enum class Parallelism {
  data,   ///< the minibatch is split across workers (Note [The step])
  intra,  ///< one worker; Eigen's GEMM itself uses `threads` threads (as PyTorch does on CPUs)
};
Parallelism parse_parallelism(std::string_view name);
const char* parallelism_name(Parallelism p);

/// Each worker gets at least this much arithmetic per step, or fewer workers are used.
inline constexpr double kMinFlopsPerWorker = 2.0e6;
/// The fused reduce + update sums this many gradient values into a per-worker scratch chunk
/// (16 KB, stays in L1) and updates them before moving on.
inline constexpr std::size_t kUpdateChunk = 4096;

struct TrainConfig {
  std::size_t epochs = 10;
  std::size_t batch_size = 32;
  std::uint64_t seed = 42;
  Loss loss = Loss::ce;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  std::size_t threads = 1;
  parallel::Backend backend = parallel::Backend::tbb;
  Parallelism parallelism = Parallelism::data;
  bool deterministic = false;
  std::size_t micro_batches = 16;  ///< units per step with deterministic
  GemmBackend gemm = default_gemm_backend();
  bool shuffle = true;
  /// Note [When to fork]: the least arithmetic per worker and step. Tests set 0 to force every
  /// step onto all threads.
  double min_flops_per_worker = kMinFlopsPerWorker;
  /// Called on the caller's thread after every step with (steps done, steps in the epoch), e.g.
  /// for a progress bar. Keep it cheap.
  std::function<void(std::size_t, std::size_t)> on_step;
  /// Other processes training the same model (MPI ranks), or null for one process. Not owned.
  /// Note [Ranks]: every rank steps through the same global batches; rank r computes the rows
  /// partition(B, R, r) of each (with --deterministic: micro-batches partition(M, R, r)), reduces
  /// them in-process, the communicator sums the gradients over ranks, and every rank applies the
  /// same update.
  Communicator* communicator = nullptr;
  /// Receives warnings (e.g. more threads than cores); the default drops them.
  std::function<void(const std::string&)> on_warning;

  /// Throws dptrain::Error for settings that cannot work (batch_size 0, threads 0, ...).
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

struct Evaluation {
  std::size_t rows = 0;
  double loss = 0;  ///< mean per-sample loss
  bool classification = false;
  ConfusionMatrix confusion;
  RegressionMetrics regression;
  /// accuracy or MSE
  double metric() const { return classification ? confusion.accuracy() : regression.mse(); }
  const char* metric_name() const { return classification ? "acc" : "mse"; }
};

/// Seconds spent per phase, summed over steps (enable with set_timing(true)).
struct PhaseTimes {
  std::uint64_t steps = 0;
  double wall = 0;              ///< whole steps, caller's clock
  double forward_backward = 0;  ///< mean over active workers of their busy time in phase 1
  double reduce_update = 0;     ///< mean over active workers of their busy time in phase 2
  double communication = 0;     ///< the gradient exchange between ranks (0 for one process)
  double waiting() const { return wall - forward_backward - reduce_update - communication; }
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

/// Trains one Model<float> on in-memory data. Owns the worker pool, the per-worker workspaces,
/// the per-unit gradient buffers and the optimizer state, all allocated in the constructor.
/// Not thread-safe: drive it from one thread.
class Trainer {
 public:
  /// `model` must outlive the trainer. Throws dptrain::Error if the config is invalid or the loss
  /// does not fit the model.
  Trainer(Model<float>& model, TrainConfig config);
  ~Trainer();
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
  /// restore()). After each epoch calls `on_epoch_end` when given, and stops early when it
  /// returns false. Returns the results of the epochs trained by this call.
  std::vector<EpochResult> fit(const Dataset& train,
                               const std::function<bool(const EpochResult&)>& on_epoch_end = {});
  /// Loss and metrics of the current parameters over all of `data` (no dropout).
  Evaluation evaluate(const Dataset& data);
  /// Outputs f(logits) (rows x outputs: probabilities, or values for regression) for every row
  /// of `data`, which may be unlabelled. Only the feature count must fit the model.
  std::vector<float> predict(const Dataset& data);

  struct StepResult {
    double loss_sum = 0;
    double metric_sum = 0;  ///< correct predictions, or sum of squared errors
  };
  /// One synchronous step on data rows `rows` (indices), as step number step_count() + 1.
  StepResult step(const Dataset& data, std::span<const std::uint32_t> rows);

  /// Throws dptrain::Error naming the data set when its shape does not fit the model and loss
  /// (feature count, classes vs outputs, labels vs real targets). train_epoch and evaluate call it.
  void check_data(const Dataset& data) const;

  const TrainConfig& config() const { return config_; }
  Model<float>& model() { return model_; }
  std::size_t epochs_done() const { return epochs_done_; }
  std::uint64_t step_count() const { return optimizer_.step(); }
  /// Workers a step of `rows` rows uses (Note [When to fork]).
  std::size_t workers_for(std::size_t rows) const;
  /// Memory the engine allocated: per worker (workspace + gradient buffer of worker w > 0) and
  /// shared (optimizer state, worker 0's buffers).
  std::size_t workspace_bytes(std::size_t worker) const;
  std::size_t gradient_buffer_bytes() const;

  /// Fills the training-state part of a checkpoint: parameters, optimizer state, position, and
  /// the settings that define the run (the caller adds normalisation and early-stopping state).
  Checkpoint checkpoint() const;
  /// Continues from a checkpoint of the same architecture and optimizer: copies parameters and
  /// optimizer state, and the epoch and step position. Throws dptrain::Error on a mismatch.
  void restore(const Checkpoint& c);

  void set_timing(bool on) { timing_ = on; }
  const PhaseTimes& times() const { return times_; }
  void reset_times() { times_ = {}; }

 private:
  /// Sums of one epoch's steps.
  struct EpochTally {
    std::size_t steps = 0, samples = 0, metric_values = 0;
    double loss_sum = 0, metric_sum = 0;
    void add(const StepResult& r, const Dataset& batch, std::size_t rows);
  };
  /// step() inside an epoch: divergence check (naming epoch and step) and on_step.
  StepResult epoch_step(const Dataset& data, std::span<const std::uint32_t> rows, std::size_t index,
                        std::size_t steps);
  EpochResult finish_epoch(const EpochTally& tally, std::chrono::steady_clock::time_point t0);
  double current_lr(std::size_t steps_per_epoch) const;
  void gather(const Dataset& data, std::span<const std::uint32_t> rows, Workspace<float>& ws);
  StepResult run_unit(const Dataset& data, std::span<const std::uint32_t> rows,
                      std::size_t first_row, std::size_t batch_rows, std::size_t worker,
                      float* grads);

  Model<float>& model_;
  TrainConfig config_;
  std::size_t units_capacity_;
  std::unique_ptr<parallel::WorkerPool> pool_;
  std::vector<Workspace<float>> workspaces_;
  std::vector<AlignedBuffer<float>> gradients_;       // one per unit, the parameter layout
  std::vector<float*> active_gradients_;              // reserved; the non-empty units of a step
  std::vector<AlignedBuffer<float>> update_scratch_;  // one kUpdateChunk chunk per worker
  OptimizerState<float> optimizer_;
  std::vector<std::uint32_t> order_;  // the epoch's row order
  std::size_t epochs_done_ = 0;
  std::size_t steps_per_epoch_ = 0;
  bool timing_ = false;
  PhaseTimes times_;
};

}  // namespace dptrain
