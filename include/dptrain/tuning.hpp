#pragma once
// Tuning: predicting and choosing how a step uses the threads (the Plan, plan.hpp) on this
// machine. Three parts:
//  - the cost model (Note [The cost model]): a step's time at N cores predicted from parameters
//    measured here (a Calibration) plus stated assumptions about larger machines. Pure
//    arithmetic, testable by hand; calibrate() measures the parameters.
//  - interleaved measurement (Note [Interleaved windows]): timed windows of training steps of
//    several configurations ("points") of one workload, interleaved within each repeat.
//  - choose_plan: Plan auto, the shortlist of the cost model decided by a few measured steps.
// `dptrain scale` and `dptrain bench` report with these; Trainer resolves Plan auto with
// choose_plan.
//
// Note [The cost model]
// A step of the data strategy with owner-computed weight gradients (Note [Owner computes] in
// src/engine/owner_update.cpp) at W workers is predicted as
//   compute  = phase 1: forward + input-gradient products of the slowest worker's ceil(B/W) rows
//              at the forward rate measured for that row count (the input-gradient product is
//              costed at the forward shape's rate; the first layer has none)
//            + phase 2: the slowest worker's weight-gradient tiles (the engine's own shares,
//              owned_weight_tiles) at the tile rate measured for each layer
//   exchange = bytes phase 2 reads, B (in + out) 4 per layer, at the aggregate bandwidth of W cores
//   update   = parameter and optimizer-state bytes, read and written, at that bandwidth
//   sync     = 2 fork/joins of W workers.
// `buffers` (one gradient buffer per worker) moves the weight-gradient product into phase 1
// (K = the worker's rows, at the forward rate) and replaces exchange by the reduce: W buffers of
// P values written and read back, W P 4 2 bytes. `intra` (one replica, every product split over
// W workers) costs the B-row products at split_rate (up to W parts, each at the single-thread
// rate of its share: the larger of B and out divided by the parts, read off the rows curve)
// times LayerCalibration::split, no exchange, and one fork/join per product. Elementwise work
// (activations, bias, loss) is left out. With more than one worker every product's rate is scaled
// by LayerCalibration::contended (the layer's forward product measured on every core at once
// against alone: shared caches, memory and clocks). A G x T plan (engine.hpp, Note [Groups]) is the
// data strategy over G = cores / T workers whose every product is split over T threads: a product
// of F flops runs on gemm_split_parts(F, T) threads (gemm.hpp, gemm's own rule), each at the rate
// of its share as for intra (split_rate), a weight tile at parts x the tile rate, both times the
// layer's measured LayerCalibration::split, plus one fork/join of T per product and weight tile;
// the update (owner: by the leaders; buffers: the reduce) runs at the bandwidth of G cores. T = 1
// is the data plan above. Beyond the measured cores: that contended rate holds per core (no
// further clock drop), the aggregate bandwidth grows with the contended per-core figure up to
// Assumptions::mem_bandwidth_gbs, and the fork/join latency grows linearly from the last two
// measured counts (or is Assumptions::sync_latency_us).
//
// Note [Interleaved windows]. Every repeat runs one window of every point, back to back, so a
// slow drift of a shared machine (a neighbour process, thermal limits) hits all points alike, and
// a ratio of two points' windows of the same repeat cancels it. Speedups are therefore medians
// of per-window ratios, never ratios of medians. Only one Trainer (and so one worker pool) is
// alive at a time: oneTBB applies the smallest thread limit of all live pools.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dptrain/trainer.hpp"

namespace dptrain::tuning {

// ---- the cost model ----------------------------------------------------------------------------

/// The single-thread GEMM rate at one row count.
struct RatePoint {
  std::size_t rows = 0;
  double gflops = 0;
};

/// One dense layer (in -> out) and its measured rates.
struct LayerCalibration {
  std::size_t in = 0, out = 0;
  /// Forward product (rows x in)(in x out), rows = B, B/2, ..., 1 (any order).
  std::vector<RatePoint> forward;
  /// One weight-gradient tile (weight_tile_rows(in, out) x B)(B x out).
  double tile_gflops = 0;
  /// The forward product at ceil(B / cores) rows run on every measured core at once, per core,
  /// as a fraction of its rate alone (<= 1; shared caches, memory and clocks). Applied to every
  /// product of a step with more than one worker.
  double contended = 1;
  /// The forward product at B rows split over every measured core by the engine's own rule
  /// (gemm with a pool of the config's backend), its input just written and its output read
  /// back by the calling core as in a step, as a fraction of split_rate() x contended: what the
  /// arithmetic leaves out (moving the input to the other cores, waking the pool, a part ending
  /// last). Bounded to [0.05, 1.5]; 1 when that product is too small to be split. Applied to
  /// every split product and weight tile (intra, G x T) whatever its rows, threads and pool
  /// backend (group pools use the threads backend): an assumption, stated in the projection.
  double split = 1;
};

/// What calibrate() measured on this machine.
struct Calibration {
  std::size_t batch = 0;
  std::vector<LayerCalibration> layers;
  double optimizer_states = 0;  ///< optimizer values kept per parameter (Adam: 2)
  double copy_gbs_one = 0;      ///< memcpy, bytes read + written per second, one thread
  double copy_gbs_all = 0;      ///< the same, summed over copy_threads threads copying at once
  std::size_t copy_threads = 1;
  std::vector<double> fork_join_us;  ///< [w - 1]: an empty run of a pool of w workers
  double seconds = 0;                ///< how long the calibration took
};

/// Stated machine assumptions for core counts beyond the measured ones.
struct Assumptions {
  double mem_bandwidth_gbs = 100;  ///< memory bandwidth of the socket, GB/s (read + write)
  double sync_latency_us = NAN;    ///< fork/join beyond the measured counts; NaN: extrapolate
};

/// The plans the cost model tells apart (with StepPrediction::group_threads for G x T).
enum class PlanKind { owner, buffers, intra };
const char* plan_name(PlanKind p);  ///< "data/owner", "data/buffers", "intra"

/// A predicted step, in microseconds.
struct StepPrediction {
  PlanKind plan = PlanKind::owner;
  std::size_t cores = 1;
  std::size_t group_threads = 1;  ///< T of a G x T plan (owner, buffers); 1: the data plan
  double compute_us = 0, exchange_us = 0, update_us = 0, sync_us = 0;
  double total_us() const { return compute_us + exchange_us + update_us + sync_us; }
  double samples_per_s(std::size_t batch) const { return 1e6 * double(batch) / total_us(); }
};

/// The engine's weight-gradient tile rows for a whole layer on one worker (weight_tile_rows).
std::size_t tile_rows(std::size_t in, std::size_t out);

/// The forward rate at `rows`, interpolated linearly in log(rows) between measured points and
/// held constant outside them. Throws dptrain::Error for no points.
double rate_at(const std::vector<RatePoint>& curve, std::size_t rows);

/// Aggregate copy bandwidth (GB/s) of `cores` cores: measured (interpolated between 1 and
/// copy_threads) up to copy_threads, then copy_gbs_all / copy_threads per core capped at
/// mem_bandwidth_gbs.
double bandwidth_gbs(const Calibration& c, const Assumptions& a, std::size_t cores);

/// Threads a product of `flops` runs on when split over up to `threads`: gemm_split_parts.
double split_parts(double flops, std::size_t threads);

/// A product of layer `l` at `rows` rows split over up to `threads` threads by gemm's rule
/// (gemm_split_parts, the larger of rows and columns cut), GFLOP/s before
/// LayerCalibration::split and contention: parts x the rows curve at one part's share.
double split_rate(const LayerCalibration& l, std::size_t rows, std::size_t threads);

/// One fork/join of `workers` workers, microseconds (measured, else extrapolated or assumed).
double fork_join_us(const Calibration& c, const Assumptions& a, std::size_t workers);

/// "data/owner", "intra", "4x2/owner" (G x T with T > 1), ...: to_string of to_plan(p).
std::string plan_label(const StepPrediction& p);

/// The Plan that runs a prediction's step at p.cores threads.
Plan to_plan(const StepPrediction& p);

/// The step of Note [The cost model]. `cores` >= 1; `group_threads` (T, owner and buffers
/// only) divides `cores` (std::invalid_argument otherwise).
StepPrediction predict(const Calibration& c, const Assumptions& a, PlanKind plan, std::size_t cores,
                       std::size_t group_threads = 1);

/// The plan with the lowest predicted step over owner and buffers at every T dividing `cores`
/// and intra (ties: the smaller T, owner before buffers, intra last).
StepPrediction best_plan(const Calibration& c, const Assumptions& a, std::size_t cores);

// ---- workloads and calibration -----------------------------------------------------------------

/// What is measured: a multilayer perceptron, its loss and optimizer, and the batch size.
struct Workload {
  std::string name;
  std::vector<std::size_t> widths;
  Activation hidden = Activation::relu, output = Activation::softmax;
  Loss loss = Loss::ce;
  OptimizerKind optimizer = OptimizerKind::adam;
  double lr = 1e-3;
  std::size_t batch = 32;
};

/// "custom": relu hidden layers; softmax + CE for several outputs, sigmoid + BCE for one; Adam,
/// lr 1e-3. Throws dptrain::Error for fewer than two widths.
Workload custom_workload(std::span<const std::size_t> widths, std::size_t batch);

/// Random inputs in [0, 1) and random targets of the workload's shape (seeded: the same rows
/// every call): throughput does not depend on the values.
Dataset random_data(const Workload& w, std::size_t rows);

/// `base` (threads, backend, GEMM, plan, ...) with the workload's batch, loss and optimizer, at
/// `threads` threads, without base's callbacks (on_step, stop, checkpoint_every).
TrainConfig workload_config(const Workload& w, const TrainConfig& base, std::size_t threads);

/// Measures GEMM rates of the workload's layer shapes (single-threaded, rows = B, B/2, ..., 1,
/// and one weight-gradient tile per layer; with several cores also LayerCalibration::contended
/// and ::split), memcpy bandwidth with 1 and with `cores` threads, and the fork/join latency of
/// a pool of 1..cores workers of `base.backend`, on the kernels `base` runs: base.gemm, or with
/// gemm `automatic` the KernelChoice (base.kernels, else the choice for one thread on the data
/// plan, read from the wisdom file or measured: kernel_choice.hpp). A few hundred ms.
Calibration calibrate(const Workload& w, const TrainConfig& base, std::size_t cores);

// ---- interleaved measurement -------------------------------------------------------------------

/// Runs training steps over the rows of `data` in a fixed cyclic order. `data` must outlive it.
class StepRunner {
 public:
  StepRunner(const Dataset& data, std::size_t batch);
  /// Steps for at least `seconds`; returns samples per second. Under MPI every rank runs the
  /// same number of steps (rank 0's pace decides how many fit).
  double run_for(Trainer& trainer, double seconds);

 private:
  void step_once(Trainer& trainer);
  const Dataset& data_;
  std::size_t batch_;
  std::vector<std::uint32_t> order_;
  std::size_t cursor_ = 0;
};

/// One measured configuration. The model is built once (seed 42) and trained on by every window,
/// each with a fresh Trainer built from `config`.
struct Point {
  std::size_t threads = 1;
  TrainConfig config;  ///< config.plan is the plan
  std::unique_ptr<Model<float>> model;
  // Per window, in repeat order.
  std::vector<double> samples_per_s;
  std::vector<PhaseTimes> window_times;
  // Of the trainer of the last window.
  std::size_t workers = 1;             ///< workers a step of the reference batch uses
  std::size_t extra_worker_bytes = 0;  ///< workspace + gradient buffer one more worker adds
  std::size_t engine_bytes = 0;        ///< Engine::memory().total()
  std::string gemm;                    ///< gemm_kernel_description() of the trainer's kernel
  // Largest over windows; the peak is reset before each window (0 when unavailable).
  std::size_t rss = 0, peak_rss = 0;
};

/// The point of `w` at `threads` threads with the given strategy, on the engine settings of
/// `base` (backend, GEMM, determinism, weight gradients; owner falls back to automatic for
/// intra).
Point make_point(const Workload& w, const TrainConfig& base, std::size_t threads,
                 Parallelism parallelism);

struct WindowSettings {
  double seconds = 1;       ///< timed length of a window
  double warmup = 0.25;     ///< untimed steps before it (pages, caches, wake-up)
  std::size_t repeats = 1;  ///< windows per point
};

/// Measures every point `repeats` times (Note [Interleaved windows]) on random data of `w`'s
/// shape; appends one window to each point per repeat and calls `on_repeat(r)` after repeat r.
/// All points must run `w`'s model; each steps with its own config.batch_size (the same as
/// `w`'s, or larger for weak scaling).
void measure_interleaved(const Workload& w, std::vector<Point>& points,
                         const WindowSettings& settings,
                         const std::function<void(std::size_t)>& on_repeat = {});

/// Median, smallest and largest samples/s of a point's windows, and their relative spread
/// (max - min) / median.
struct WindowStats {
  double median = 0, min = 0, max = 0, spread = 0;
};
WindowStats window_stats(const Point& p);

/// The ratios of `p`'s windows to `baseline`'s window of the same repeat (Note [Interleaved
/// windows]): their median (the speedup), smallest and largest. Both need the same repeats.
struct RatioStats {
  double median = 0, min = 0, max = 0;
};
RatioStats ratio_stats(const Point& p, const Point& baseline);

/// The window whose samples/s is closest to `median` (the first such): its time split stands for
/// the point, since a mean over windows would let one disturbed window dominate it.
std::size_t typical_window(const Point& p, double median);
/// The time split of all of a point's windows added up.
PhaseTimes summed_times(const Point& p);

/// Mean microseconds per step of each phase of `t` (counting at least one step).
struct StepSplit {
  double forward_backward = 0, reduce_update = 0, communication = 0, wait = 0;
};
StepSplit step_split_us(const PhaseTimes& t);

/// Resident set size of this process now, and its peak since the last reset_peak_rss()
/// (VmRSS / VmHWM of /proc/self/status; 0 when unavailable).
std::size_t current_rss_bytes();
std::size_t peak_rss_bytes();
/// Resets the kernel's peak-RSS counter (writes 5 to /proc/self/clear_refs); false if refused.
bool reset_peak_rss();

/// The median; NaN for no values.
double median(std::vector<double> v);

// ---- the sweep -------------------------------------------------------------------------------

/// One configuration of `dptrain bench --sweep`: a fixed kernel and plan.
struct SweepCandidate {
  std::string label;  ///< "openblas data/buffers", "onednn 1x2/owner", "eigen intra"
  TrainConfig config;
};

/// The configurations the default is measured against at `threads` threads: every kernel of the
/// build (tunable_gemm_backends) with owner and with buffers weight gradients on the data plan
/// and on every G x T plan (T > 1 dividing `threads`), and intra (threads > 1). Each runs one
/// kernel for every product (no KernelChoice); the other settings are base's. Throws
/// dptrain::Error for bf16 (owner, intra and G x T need fp32) or a communicator.
std::vector<SweepCandidate> sweep_candidates(const TrainConfig& base, std::size_t threads);

// ---- Plan auto ---------------------------------------------------------------------------------

/// Plan auto for a model of layer widths `widths` trained with `config` (batch, optimizer,
/// threads, GEMM kernel, pool backend): calibrates the cost model, times ~0.15 s of steps of
/// data/owner and the two other plans it predicts fastest (interleaved, 3 repeats), and sets
/// config.plan to the fastest (about a second in all). One thread, `deterministic` (whose
/// promise covers one T only), bf16 and a communicator keep the data plan without measuring.
/// Returns one line saying what was chosen, with each candidate's measured and predicted step.
/// Runs whatever config.plan was; never leaves it auto.
std::string choose_plan(std::span<const std::size_t> widths, TrainConfig& config);

}  // namespace dptrain::tuning
