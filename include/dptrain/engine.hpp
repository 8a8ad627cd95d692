#pragma once
// The engine: one synchronous data-parallel training step over a persistent worker pool.
//
// Note [The step]. A minibatch of B rows (a slice of the epoch's shuffled order) is cut into
// units (parallel::plan_step): one contiguous shard per worker, or, with `deterministic`, a
// fixed number of micro-batches independent of the thread count. Phase 1: each worker gathers
// its units' rows and runs forward, loss and backward against the shared read-only parameters
// (the deltas already scaled by 1/B). Then, by EngineConfig::weight_gradients:
//  - owner, what `automatic` (the default) picks for fp32, the data strategy and one process:
//    phase 1 computes only the deltas and input gradients, into one batch-wide workspace at the
//    unit's rows (Workspace::bind_rows). After the join, phase 2: each worker computes the
//    gradient of the weight rows it owns over the whole batch, one product per tile, and applies
//    the optimizer to them at once (Note [Owner computes]). No gradient buffers, no reduce pass.
//  - buffers (bf16, intra, several ranks, or asked for): phase 1 also writes each unit's whole
//    gradient into the unit's own buffer. After the join, the Reducer (parallel/reducer.hpp)
//    sums the units' buffers slice by slice in unit order and applies the optimizer to each
//    slice as soon as it is summed (fused reduce-scatter + update; parameters are shared, so
//    there is nothing to all-gather); across ranks it exchanges the sums first (Note [Ranks]).
// The units' loss and metric sums are added in unit order; the next step starts after the
// second join. docs/DESIGN.md, "The step", walks through both paths.
//
// Note [Reproducibility]. What is bitwise equal under which changes:
//  - Same binary, ISA, GEMM backend, seed, data and config: the same bits on every run (with
//    gemm `automatic`: the same KernelChoice, i.e. the same wisdom file or checkpoint, Note
//    [Kernel wisdom] in kernel_choice.hpp; measuring again may choose other kernels). Unit
//    boundaries and the reduction order are fixed by the plan, the dropout masks are a hash of
//    (seed, step, global row, unit), and each unit's kernels are single-threaded.
//  - With `deterministic`, additionally the same bits for any `threads` (and any pool backend):
//    the units are M micro-batches that do not depend on the worker count, each is computed
//    the same way whichever worker runs it, and their gradients are summed in unit order.
//    Across ranks (Note [Ranks]) the bits depend on the rank count, not on threads per rank.
//    With gemm `automatic` this holds when the runs read the same wisdom (a shape's kernel does
//    not depend on the thread count) and form weight gradients the same way (the measured
//    strategy may differ per thread count: pin it with weight_gradients).
//  - Not promised: equality across GEMM backends, ISAs (AVX2 vs AVX-512 kernels), the intra
//    strategy versus data, or without `deterministic` across thread counts (the shards differ).
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
// Note [Precision]. With Precision::bf16 every product large enough for oneDNN (onednn_runs)
// takes bf16 inputs and accumulates in fp32 (AVX512_BF16; a CPU without it is refused at
// start-up rather than run in oneDNN's slower emulation). The parameters and the optimizer
// state stay fp32 ("master weights"); the engine keeps a bf16 copy of the parameters, which the
// fused update rewrites chunk by chunk right after updating the fp32 values. Activations and
// output gradients are converted per product; losses, softmax, metrics, evaluation and
// checkpoints are fp32. Bits stay a fixed function of the inputs: the conversions are
// element-wise and the bf16 kernels give each row the same bits for any number of rows.
//
// Note [Owner computes]. With W workers, per-unit gradient buffers cost W full copies of the
// parameters written and read back every step: memory traffic that grows with W while each
// worker's products shrink. In-process fp32 data-parallel steps therefore form the weight
// gradients the other way round (after libxsmm's MLP samples): phase 1, each unit runs forward
// and backward computing only the deltas (dL/dz) and input gradients, writing activations and
// deltas into one batch-wide workspace at its rows (Workspace::bind_rows); the input gradients
// use the weights before the update because nothing is updated until the join. Phase 2, the
// weights of every dense layer are shared out by rows: worker w of W owns the rows whose
// gradient cost lies in [w/W, (w+1)/W) of the step's total (boundaries on 16 rows), cut into
// tiles of at most kTileValues values. It computes each tile's gradient over the whole batch in
// one product (K = B rows) and applies the optimizer to that slice at once from a small
// per-worker scratch (in L2). No gradient buffers, no reduce pass: the data exchanged is the
// batch's activations and deltas, B x (fan_in + fan_out) per layer, whatever W is. The shares
// depend on W, so the bits are the same run to run for a fixed thread count; with
// `deterministic` the tiles are instead a function of the model alone (each layer cut as for
// W = 1) dealt out by cost, so every tile's product and sum order is independent of W and
// keeps its promise. Buffers remain for bf16, the intra strategy and several ranks (whose
// exchange needs whole gradients): EngineConfig::weight_gradients.
//
// Note [Threads]. The engine's pools are the only owners of threads: `threads` workers, each
// calling single-threaded kernels. OpenBLAS is held to one thread while dptrain works and its
// setting given back after (OpenBlasSingleThreaded in gemm.hpp: held by each step, prepare(),
// Trainer epoch and fit call, Inference call and the CLI's run; the first holder saves the
// process's count and sets 1, the last restores it); every oneDNN call holds its thread to one
// OpenMP thread and restores the setting; Eigen is built without its own parallelism. The intra
// strategy runs one unit and splits every matrix product over the same pool instead (gemm.hpp:
// GemmContext). No library's thread setting stays changed after dptrain's calls return.
//
// Note [Groups]. Between those two ends, a G x T plan (EngineConfig::group_threads = T, G =
// threads / T): the step's pool has G workers ("group leaders") that run the data strategy as
// above, units, owner tiles and all, and each leader splits every product of its units and its
// tiles over its own group pool of T workers (worker 0 the leader itself, the others its group's
// threads), as the intra strategy splits them over the whole pool. Elementwise work stays on the
// leader. Each group pool uses the `threads` backend whatever `backend` is, because a parallel
// region inside another one would run serialised (OpenMP) or share one thread budget (oneTBB).
// Why: at many cores the data strategy's shards shrink to a few rows each, where the products
// run slowly, while intra pays a fork/join per product on all cores; G x T keeps shards of B/G
// rows and forks T threads. `--pin` binds leader g and its group to cores g*T .. g*T+T-1.
// Bits: each product is split by a rule of (shape, T) alone, so the same bits run to run; with
// `deterministic`, the same bits for any `threads` with the same T (T = 1 is the data plan).
// Work outside the step (the Trainer's evaluation and prediction) runs on evaluation_pool(), a
// flat pool of all `threads` (threads backend) that such an engine creates and leaves idle
// during steps, rather than on the G leaders alone.
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
#include "dptrain/parallel/plan.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/parallel/reducer.hpp"
#include "dptrain/topology.hpp"

namespace dptrain {

enum class Parallelism {
  data,   ///< the minibatch is split across workers (Note [The step])
  intra,  ///< one unit; every matrix product is split over the workers (as PyTorch on CPUs)
};
Parallelism parse_parallelism(std::string_view name);
const char* parallelism_name(Parallelism p);

enum class Precision {
  fp32,  ///< fp32 products
  bf16,  ///< bf16 inputs, fp32 accumulation and master weights (Note [Precision])
};
/// Parses "fp32" or "bf16"; throws dptrain::Error otherwise.
Precision parse_precision(std::string_view name);
const char* precision_name(Precision p);

/// How a step forms the weight gradients (Note [Owner computes]).
enum class WeightGradients {
  automatic,  ///< owner where it applies (fp32, data strategy, one process), else buffers
  buffers,    ///< per-unit gradient buffers summed and applied by the Reducer
  owner,      ///< workers own row tiles of the weights: gradient over the whole batch, update
};
/// Parses "auto", "buffers" or "owner"; throws dptrain::Error otherwise.
WeightGradients parse_weight_gradients(std::string_view name);
const char* weight_gradients_name(WeightGradients w);

/// Note [Owner computes]: gradient values per weight tile (a tile's rows x the layer's outputs).
inline constexpr std::size_t kTileValues = 262144;

/// Rows [begin, end) of dense layer `layer`'s weights (Note [Owner computes]).
struct WeightTile {
  std::size_t layer = 0, begin = 0, end = 0;
};

/// Note [Owner computes]: the weight tiles worker w of `workers` owns in a model of layer
/// widths `widths` (dense layer k maps widths[k] to widths[k + 1]); `deterministic` gives the
/// shape-only tiling. Throws std::invalid_argument unless w < workers and widths.size() >= 2.
std::vector<WeightTile> owned_weight_tiles(std::span<const std::size_t> widths, std::size_t w,
                                           std::size_t workers, bool deterministic);

/// Rows of the first tile when a whole layer of `in` x `out` weights is cut (one worker).
std::size_t weight_tile_rows(std::size_t in, std::size_t out);

/// Each worker gets at least this much arithmetic per step, or fewer workers are used.
inline constexpr double kMinFlopsPerWorker = 2.0e6;
/// The fused reduce + update sums this many gradient values at a time (see InProcessReducer).
inline constexpr std::size_t kUpdateChunk = parallel::InProcessReducer::kChunk;

/// What the engine needs to run steps.
struct EngineConfig {
  std::size_t batch_size = 32;  ///< the most rows one step takes (global, over all ranks)
  std::uint64_t seed = 42;      ///< dropout masks
  Loss loss = Loss::ce;
  OptimizerConfig optimizer;
  std::size_t threads = 1;
  parallel::Backend backend = parallel::Backend::tbb;
  Parallelism parallelism = Parallelism::data;
  bool deterministic = false;      ///< Note [Reproducibility]
  std::size_t micro_batches = 16;  ///< units per step with deterministic
  GemmBackend gemm = default_gemm_backend();
  /// With gemm `automatic`: the kernel of each product shape (kernel_choice.hpp); null: the
  /// built-in kernel for every product.
  std::shared_ptr<const KernelChoice> kernels;
  /// bf16 needs the onednn kernel, a CPU with AVX512_BF16 and the data strategy (validate()).
  Precision precision = Precision::fp32;
  /// Note [Owner computes]; `owner` needs fp32, the data strategy and no communicator.
  WeightGradients weight_gradients = WeightGradients::automatic;
  /// Note [Groups]: threads per replica group (T of a G x T plan); 1 is plain data parallelism.
  /// Must divide `threads`; more than 1 needs the data strategy and fp32.
  std::size_t group_threads = 1;
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
  std::size_t workspaces = 0;        ///< all workers' activation memory (and the batch's)
  std::size_t gradient_buffers = 0;  ///< one per unit, each the parameter layout (buffers);
                                     ///< the per-worker tile scratch (owner)
  std::size_t reducer = 0;           ///< reduce scratch (and exchange buffer across ranks)
  std::size_t per_extra_worker = 0;  ///< what one more worker adds (workspace + buffer + scratch)
  std::size_t total() const {
    return parameters + optimizer_state + workspaces + gradient_buffers + reducer;
  }
};

/// Runs training steps of one Model<float>. Owns the worker pool, the per-worker workspaces,
/// the per-unit gradient buffers, the optimizer state and the reducer, all allocated in the
/// constructor: step() allocates nothing. Not thread-safe: drive it from one thread.
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
  WeightGradients weight_gradients() const {
    return owner_ ? WeightGradients::owner : WeightGradients::buffers;
  }

  EngineMemory memory() const;
  std::size_t workspace_bytes(std::size_t worker) const;
  std::size_t gradient_buffer_bytes() const;

  void set_timing(bool on) { timing_ = on; }
  const PhaseTimes& times() const { return times_; }
  void reset_times() { times_ = {}; }

 private:
  parallel::StepPlan plan(std::size_t batch) const;
  void run_units(const parallel::StepPlan& plan, const Dataset& data,
                 std::span<const std::uint32_t> rows, std::size_t w);
  StepStats run_unit(const Dataset& data, std::span<const std::uint32_t> rows,
                     std::size_t first_row, std::size_t batch_rows, std::size_t worker,
                     float* grads);
  std::span<float* const> active_buffers(const parallel::StepPlan& plan);
  void check_step(const Dataset& data, std::size_t rows) const;
  void record_times(const parallel::StepPlan& plan, double exchange);
  double reduce_update(const parallel::StepPlan& plan, double learning_rate, std::uint64_t t);
  // Note [Owner computes]: the weight tiles, and phase 2 on worker w (update false: prepare()).
  void plan_tiles();
  void pin_workers();
  static std::size_t share_index(std::size_t w, std::size_t workers);
  void owned_gradients(std::size_t w, std::size_t workers, std::size_t rows, double learning_rate,
                       std::uint64_t t, bool update);

  Model<float>& model_;
  EngineConfig config_;
  std::unique_ptr<parallel::WorkerPool> pool_;
  std::unique_ptr<WorkerPinning> pinning_;  // after pool_: unbinds before the pool goes
  std::vector<std::unique_ptr<parallel::WorkerPool>> group_pools_;  // Note [Groups]; T > 1
  std::vector<std::unique_ptr<WorkerPinning>> group_pinning_;       // after group_pools_
  std::unique_ptr<parallel::WorkerPool> flat_pool_;                 // G x T: evaluation_pool()
  std::unique_ptr<parallel::Reducer> reducer_;
  std::vector<Workspace<float>> workspaces_;
  std::vector<AlignedBuffer<float>> gradients_;  // one per unit, the parameter layout
  std::vector<float*> active_;                   // reserved; the non-empty units of a step
  struct alignas(64) UnitStats {
    StepStats stats;
  };
  std::vector<UnitStats> unit_stats_;               // one per unit
  std::vector<double> busy_fb_, busy_ru_;           // per-worker seconds of the current step
  std::vector<std::size_t> prepared_;               // step sizes whose kernels exist (prepare)
  AlignedBuffer<bf16> bf16_parameters_;             // Note [Precision]; empty in fp32
  bool owner_ = false;                              // Note [Owner computes]
  std::unique_ptr<Workspace<float>> batch_ws_;      // owner: the whole batch's activations
  std::vector<AlignedBuffer<float>> tile_scratch_;  // owner: one tile's gradient per worker
  // owner: worker w's tiles when W workers run, at share_index(w, W); planned up front.
  std::vector<std::vector<WeightTile>> shares_;
  OptimizerState<float> optimizer_;
  bool timing_ = false;
  PhaseTimes times_;
};

}  // namespace dptrain
