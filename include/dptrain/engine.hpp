#pragma once
// The engine: synchronous data-parallel training steps of one Model<float> over a persistent
// worker pool. Everything a step needs is allocated in the constructor; step() allocates
// nothing and gives the bits that Note [Reproducibility] promises. Drive an engine from one
// thread.
//
//   Model<float> model(ModelSpec::mlp({784, 128, 10}, Activation::relu, Activation::softmax));
//   model.initialize(42);
//   EngineConfig config;
//   config.batch_size = 64;
//   config.threads = 4;                       // optimizer, loss, plan, ... also here
//   Engine engine(model, config);             // throws dptrain::Error for a config that cannot run
//   engine.check_data(train);                 // a misfit data set fails here, not mid-epoch
//   double loss = 0;
//   for (std::span<const std::uint32_t> batch : batches)  // e.g. slices of a shuffled order
//     loss += engine.step(train, batch, 1e-3).loss_sum;  // forward, backward, update
// Trainer (trainer.hpp) adds epochs, schedules, evaluation and checkpoints on top. How a step
// runs inside: Note [The step] in src/engine/engine.cpp.
//
// Note [Reproducibility]. What is bitwise equal under which changes:
//  - Same binary, ISA, GEMM backend, seed, data and config: the same bits on every run (with
//    gemm `automatic`: the same KernelChoice, i.e. the same wisdom file or checkpoint, Note
//    [Kernel wisdom] in kernel_choice.hpp; measuring again may choose other kernels). Unit
//    boundaries and the reduction order are fixed by the partition, the dropout masks are a
//    hash of (seed, step, global row, unit), and each unit's kernels are single-threaded (with
//    T threads per group, split by a rule of (shape, T) alone).
//  - With `deterministic`, additionally the same bits for any `threads` (and any pool backend)
//    with the same threads per group: the units are M micro-batches that do not depend on the
//    worker count, each is computed the same way whichever worker runs it, and their gradients
//    are summed in unit order (owner tiles: Note [Owner computes] in
//    src/engine/owner_update.cpp). Across ranks (Note [Ranks]) the bits depend on the rank
//    count, not on threads per rank. With gemm `automatic` this holds when the runs read the
//    same wisdom (a shape's kernel does not depend on the thread count) and form weight
//    gradients the same way (the measured strategy may differ per thread count: pin it with
//    the plan's weight gradients).
//  - Not promised: equality across GEMM backends, ISAs (AVX2 vs AVX-512 kernels), the intra
//    strategy versus data, owner versus buffers, or without `deterministic` across thread
//    counts (the shards differ).
//  - Evaluation and prediction (inference.hpp) compute each row on its own, but a kernel may
//    round differently for another chunk shape, so their bits are promised for a fixed thread
//    count and chunk size only.
//
// Note [Ranks]. Other processes (MPI ranks) train the same model: every rank steps through the
// same global batches; rank r computes the rows partition(B, R, r) of each (with
// `deterministic`: micro-batches partition(M, R, r)), sums them in process, the communicator
// sums the gradients over ranks (in rank order with `deterministic`), and every rank applies
// the same update. A rank may have no rows (B < R): it contributes zeros.
//
// Note [When to fork]. Forking and joining costs a few microseconds per phase, a waste on tiny
// models: a step uses W = clamp(floor(flops(B) / min_flops_per_worker), 1, threads) workers,
// flops(B) = B * model.flops_per_sample(). With W = 1 everything runs inline on the caller,
// and idle workers are never woken (WorkerPool::run(n, f)).
//
// Note [Threads]. The engine's pools are the only owners of threads: `threads` workers, each
// calling single-threaded kernels. OpenBLAS is held to one thread while dptrain works and its
// setting given back after (OpenBlasSingleThreaded in gemm.hpp: held by each step, prepare(),
// Trainer epoch and fit call, Inference call and the CLI's run; the first holder saves the
// process's count and sets 1, the last restores it); every oneDNN call holds its thread to one
// OpenMP thread and restores the setting; Eigen is built without its own parallelism. The intra
// strategy runs one unit and splits every matrix product over the same pool instead (gemm.hpp:
// GemmContext); a G x T plan splits each group leader's products over its group's pool (Note
// [Groups]). No library's thread setting stays changed after dptrain's calls return.
//
// Note [Groups]. A G x T plan (Plan::group_threads = T, G = threads / T): the step's
// pool has G workers ("group leaders") that run the data strategy, units, update and all, and
// each leader splits every product of its units and its tiles over its own group pool of T
// workers (worker 0 the leader itself), as intra splits them over the whole pool; elementwise
// work stays on the leader. `--pin` binds leader g and its group to cores g*T .. g*T+T-1. Work
// outside the step (the Trainer's evaluation and prediction) runs on evaluation_pool(), a flat
// pool of all `threads` that such an engine creates and leaves idle during steps. Bits: Note
// [Reproducibility]; why such plans exist: Note [Why groups] in src/engine/groups.cpp.
//
// Note [Precision]. With Precision::bf16 every product large enough for oneDNN (onednn_runs)
// takes bf16 inputs and accumulates in fp32 (AVX512_BF16; a CPU without it is refused at
// start-up rather than run in oneDNN's slower emulation). The parameters and the optimizer
// state stay fp32 ("master weights"; Note [bf16 weight copy] in src/engine/buffer_update.cpp);
// activations and output gradients are converted per product; losses, softmax, metrics,
// evaluation and checkpoints are fp32. Bits stay a fixed function of the inputs: the
// conversions are element-wise and the bf16 kernels give each row the same bits for any number
// of rows.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/data.hpp"
#include "dptrain/distributed.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/loss.hpp"
#include "dptrain/model.hpp"
#include "dptrain/optimizer.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/parallel/reducer.hpp"
#include "dptrain/parallel/row_partition.hpp"
#include "dptrain/plan.hpp"
#include "dptrain/run_settings.hpp"
#include "dptrain/topology.hpp"

namespace dptrain {

namespace detail {
class WeightUpdate;
}

enum class Precision {
  fp32,  ///< fp32 products
  bf16,  ///< bf16 inputs, fp32 accumulation and master weights (Note [Precision])
};
/// Note [Name tables].
inline constexpr NameTable<Precision, 2> kPrecisionNames{
    "precision", {{{Precision::fp32, "fp32"}, {Precision::bf16, "bf16"}}}};
static_assert(kPrecisionNames.complete_through(Precision::bf16));
inline Precision parse_precision(std::string_view name) {
  return kPrecisionNames.parse(name);
}
inline const char* precision_name(Precision p) {
  return kPrecisionNames.name(p);
}

/// Note [Name tables], for the worker pool's backends (parallel/pool.hpp). The table lives
/// here rather than beside the enum because parallel/ is a library of its own, below dptrain:
/// it has neither NameTable nor dptrain::Error. Everything that names a backend in text (the
/// CLI's --backend, Python's backend=, reports) goes through this table.
inline constexpr NameTable<parallel::Backend, 3> kBackendNames{
    "backend",
    {{{parallel::Backend::tbb, "tbb"},
      {parallel::Backend::openmp, "openmp"},
      {parallel::Backend::threads, "threads"}}}};
static_assert(kBackendNames.complete_through(parallel::Backend::threads));
inline parallel::Backend parse_backend(std::string_view name) {
  return kBackendNames.parse(name);
}
inline const char* backend_name(parallel::Backend backend) {
  return kBackendNames.name(backend);
}

/// Each worker gets at least this much arithmetic per step, or fewer workers are used.
inline constexpr double kMinFlopsPerWorker = 2.0e6;
/// The fused reduce + update sums this many gradient values at a time (see InProcessReducer).
inline constexpr std::size_t kUpdateChunk = parallel::InProcessReducer::kChunk;

/// What the engine needs to run steps: the run's settings (run_settings.hpp; the engine reads
/// the loss, optimizer, seed, batch size and determinism, the Trainer the rest) and how to run
/// them, which a resumed run may change.
struct EngineConfig : RunSettings {
  std::size_t threads = 1;
  parallel::Backend backend = parallel::Backend::tbb;
  /// data, intra or G x T, and the weight-gradient strategy (plan.hpp). Checked by check_plan;
  /// intra and G x T need fp32 with bf16 (validate()), owner needs fp32, the data strategy and
  /// no communicator (Note [Owner computes] in src/engine/owner_update.cpp), auto must be
  /// resolved first (Trainer does).
  Plan plan;
  GemmBackend gemm = default_gemm_backend();
  /// With gemm `automatic`: the kernel of each product shape (kernel_choice.hpp); null: the
  /// built-in kernel for every product.
  std::shared_ptr<const KernelChoice> kernels;
  /// bf16 needs the onednn kernel, a CPU with AVX512_BF16 and the data strategy (validate()).
  Precision precision = Precision::fp32;
  /// Note [When to fork]: the least arithmetic per worker and step. Tests set 0 to force every
  /// step onto all threads.
  double min_flops_per_worker = kMinFlopsPerWorker;
  /// Other processes training the same model (Note [Ranks]), or null for one process. Not owned.
  Communicator* communicator = nullptr;
  /// Note [Pinning] (topology.hpp): worker i is bound to core pin_cores[i % size] of
  /// machine_topology(); empty (the default): no binding. Ignored, with a warning, by the tbb
  /// backend. With the threads and openmp backends worker 0 is the caller, whose binding lasts
  /// until the engine is destroyed.
  std::vector<std::size_t> pin_cores;
  /// Receives warnings (e.g. more threads than cores); the default drops them.
  std::function<void(const std::string&)> on_warning;

  /// Throws dptrain::Error for settings that cannot work (batch size 0, threads 0, ...).
  void validate() const;
};

/// Sums over the rows of one step (over all ranks).
struct StepStats {
  double loss_sum = 0;
  double metric_sum = 0;  ///< correct predictions, or sum of squared errors
};

/// Engine::loss_gradient's result: the objective at the current parameters, over all rows given.
struct LossGradient {
  double loss = 0;        ///< data_loss + (l2 / 2) |W|^2 (weights only, the optimizer's l2)
  double data_loss = 0;   ///< mean data loss over the rows
  double metric_sum = 0;  ///< correct predictions, or sum of squared errors (as StepStats)
};

/// Seconds spent per phase, summed over steps (enable with Engine::set_timing(true)).
struct PhaseTimes {
  std::uint64_t steps = 0;
  double wall = 0;              ///< whole steps, caller's clock
  double forward_backward = 0;  ///< mean over active workers of their busy time in phase 1
  double reduce_update = 0;     ///< mean over active workers of their busy time in phase 2
  double communication = 0;     ///< the gradient exchange between ranks (0 for one process)
  double waiting() const { return wall - forward_backward - reduce_update - communication; }
};

/// Memory the engine allocated, in bytes.
struct EngineMemory {
  std::size_t parameters = 0;        ///< the model's flat buffer (not owned by the engine)
  std::size_t optimizer_state = 0;   ///< shared
  std::size_t workspaces = 0;        ///< the batch's activations and every worker's scratch
  std::size_t gradient_buffers = 0;  ///< one per unit, each the parameter layout (buffers);
                                     ///< the per-worker tile scratch (owner)
  std::size_t reducer = 0;           ///< reduce scratch and rank exchange buffer (buffers)
  std::size_t per_extra_worker = 0;  ///< what one more worker adds (scratch + buffer + slice)
  std::size_t total() const {
    return parameters + optimizer_state + workspaces + gradient_buffers + reducer;
  }
};

/// Runs training steps of one Model<float>. Owns the worker pools, the batch's activations,
/// the per-worker scratch, the optimizer state and the weight-update strategy (gradient buffers
/// and reducer, or tile scratch), all allocated in the constructor: step() allocates nothing.
/// Not thread-safe: drive it from one thread.
class Engine {
 public:
  /// `model` must outlive the engine. Throws dptrain::Error if the config is invalid or the loss
  /// does not fit the model's output layer.
  Engine(Model<float>& model, EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// One synchronous step on rows `rows` of `data` (indices; the global batch over all ranks)
  /// as optimizer step step_count() + 1 with learning rate `learning_rate`.
  /// Preconditions (checked, std::invalid_argument naming the condition): 1 <= rows.size() <=
  /// batch_size; data.features == the model's inputs; data labelled as check_data() demands.
  /// Row indices must be < data.rows (the caller's contract; not checked per row).
  /// Throws what the kernels or the communicator throw; the parameters are then unusable.
  StepStats step(const Dataset& data, std::span<const std::uint32_t> rows, double learning_rate);

  /// Note [Full-batch gradient]. The loss and gradient of the current parameters over all of
  /// `rows` (indices into `data`, any count >= 1; batch_size rows per pass), without an update:
  /// the parameters, optimizer state and step count stay as they are. Each pass is a step's
  /// phase 1 (units over all threads, the rows scaled by 1 / rows.size()) and its weight-update
  /// strategy's gradient without the optimizer (reduced buffers, or owner tiles), summed pass by
  /// pass into `gradient` (parameter_count() values, the parameters' layout, overwritten). The
  /// loss is the mean data loss plus (l2 / 2) |W|^2 of the optimizer config's l2 (weights only,
  /// as its update rule), whose gradient l2 W is added too; l1 and weight decay are not part of
  /// it (they have no smooth objective). Bits: those of Note [Reproducibility] for a step of the
  /// same rows. Throws dptrain::Error for a model with dropout (no fixed objective) or a
  /// communicator (one process only), std::invalid_argument for an empty `rows`, a `gradient`
  /// of another size or data that is not labelled with the model's features. What L-BFGS
  /// minimises.
  LossGradient loss_gradient(const Dataset& data, std::span<const std::uint32_t> rows,
                             std::span<float> gradient);

  /// Throws dptrain::Error naming the data set when its shape does not fit the model and loss
  /// (feature count, classes vs outputs, labels vs real targets). Cheap (no pass over the rows).
  void check_data(const Dataset& data) const;

  /// Creates the kernels' per-shape state (oneDNN primitives, in each worker's workspace) for
  /// steps of `rows` rows by running forward and backward on zeros in every unit, so that such
  /// steps create nothing. The constructor prepares full batches; Trainer prepares an epoch's
  /// last partial batch. A size already prepared, or a kernel without such state, costs
  /// nothing. Changes no parameter or optimizer state. Requires 1 <= rows <= batch_size.
  void prepare(std::size_t rows);

  /// With bf16 precision: refreshes the bf16 copy of the parameters after they were written
  /// outside a step (restore, early stopping, an application's own edits). No-op in fp32.
  void parameters_changed();

  const EngineConfig& config() const { return config_; }
  Model<float>& model() { return model_; }
  const Model<float>& model() const { return model_; }
  parallel::WorkerPool& pool() { return *pool_; }
  /// A pool of `threads` workers for work outside the step (evaluation, prediction): pool()
  /// itself, or with G x T groups (whose pool() has only G workers) a pool of the `threads`
  /// backend created for it, idle while steps run.
  parallel::WorkerPool& evaluation_pool() { return flat_pool_ ? *flat_pool_ : *pool_; }
  OptimizerState<float>& optimizer() { return optimizer_; }
  const OptimizerState<float>& optimizer() const { return optimizer_; }
  std::uint64_t step_count() const { return optimizer_.step(); }
  /// Workers a step of `rows` local rows uses (Note [When to fork]).
  std::size_t workers_for(std::size_t rows) const;
  /// Replica groups (G of Note [Groups]; 1 for intra) and threads per group (T).
  std::size_t groups() const { return workspaces_.size(); }
  std::size_t group_threads() const { return group_pools_.empty() ? 1 : group_pools_[0]->size(); }
  /// The way this engine forms weight gradients (never `automatic`).
  WeightGradients weight_gradients() const;

  EngineMemory memory() const;
  std::size_t workspace_bytes(std::size_t worker) const;
  std::size_t gradient_buffer_bytes() const;

  void set_timing(bool on) { timing_ = on; }
  const PhaseTimes& times() const { return times_; }
  void reset_times() { times_ = {}; }

 private:
  parallel::RowPartition partition(std::size_t batch) const;
  // Phase 1 (Note [The step] in src/engine/engine.cpp): worker w's units, one unit, one pass.
  // `scale`: the deltas' factor (1 / rows of the step, or of the whole loss_gradient).
  void run_units(const parallel::RowPartition& p, const Dataset& data,
                 std::span<const std::uint32_t> rows, std::size_t w, float scale);
  StepStats run_unit(const parallel::RowPartition& p, std::size_t u, const Dataset& data,
                     std::span<const std::uint32_t> rows, std::size_t worker, float scale);
  // Phase 1 of one pass (units of `rows` over the pool), its units' sums in unit order.
  StepStats phase_one(const parallel::RowPartition& p, const Dataset& data,
                      std::span<const std::uint32_t> rows, float scale);
  double forward_backward(Workspace<float>& ws, ActivationRows<float> a, std::size_t n,
                          TargetsView targets, float scale, DropoutKey key, float* grads);
  void check_step(const Dataset& data, std::size_t rows) const;
  void record_times(const parallel::RowPartition& p, double exchange);
  void pin_workers();

  Model<float>& model_;
  EngineConfig config_;
  std::unique_ptr<parallel::WorkerPool> pool_;
  std::unique_ptr<WorkerPinning> pinning_;  // after pool_: unbinds before the pool goes
  std::vector<std::unique_ptr<parallel::WorkerPool>> group_pools_;  // G x T groups; T > 1
  std::vector<std::unique_ptr<WorkerPinning>> group_pinning_;       // after group_pools_
  std::unique_ptr<parallel::WorkerPool> flat_pool_;                 // G x T: evaluation_pool()
  std::vector<Workspace<float>> workspaces_;                        // per worker: scratch
  // The step's rows of activations (Note [One activation layout] in src/engine/engine.cpp).
  std::unique_ptr<Activations<float>> activations_;
  struct alignas(64) UnitStats {
    StepStats stats;
  };
  std::vector<UnitStats> unit_stats_;      // one per unit
  std::vector<double> busy_fb_, busy_ru_;  // per-worker seconds of the current step
  std::vector<std::size_t> prepared_;      // step sizes whose kernels exist (prepare)
  OptimizerState<float> optimizer_;
  std::unique_ptr<detail::WeightUpdate> update_;  // phase 2 (src/engine/weight_update.hpp)
  bool timing_ = false;
  PhaseTimes times_;
};

}  // namespace dptrain
