#pragma once
// The cost model behind `dptrain scale`'s projection: a step's time at N cores predicted from
// parameters measured on this machine (a Calibration: GEMM rate against rows per worker, copy
// bandwidth alone and with every thread at once, fork/join latency of the pool) plus stated
// assumptions about machines larger than this one (Assumptions: flags with documented defaults).
// Pure arithmetic, no measuring here (calibration.cpp measures), so tests can check it by hand.
//
// Note [The cost model]
// A step of the data strategy with owner-computed weight gradients (src/engine/owner_update.cpp,
// Note [Owner computes]) at W workers is predicted as
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
// of F flops runs on parts = min(T, F / 1 MFLOP) threads (gemm.cpp's rule), each at the rate of its
// share as for intra (split_rate), a weight tile at parts x the tile rate, both times the layer's
// measured LayerCalibration::split, plus one fork/join of T per product and weight tile; the update
// (owner: by the leaders; buffers: the reduce) runs at the bandwidth of G cores. T = 1 is the data
// plan above. Beyond the measured cores: that contended rate holds per core (no further clock
// drop), the aggregate bandwidth grows with the contended per-core figure up to
// Assumptions::mem_bandwidth_gbs, and the fork/join latency grows linearly from the last two
// measured counts (or is Assumptions::sync_latency_us).
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace dptrain::cli {

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
  /// One weight-gradient tile (tile_rows(in, out) x B)(B x out).
  double tile_gflops = 0;
  /// The forward product at ceil(B / cores) rows run on every measured core at once, per core,
  /// as a fraction of its rate alone (<= 1; shared caches, memory and clocks). Applied to every
  /// product of a step with more than one worker.
  double contended = 1;
  /// The forward product at B rows split over every measured core by the engine's own rule
  /// (gemm with a pool of `--backend`), its input just written and its output read back by the
  /// calling core as in a step, as a fraction of split_rate() x contended: what the arithmetic
  /// leaves out (moving the input to the other cores, waking the pool, a part ending last).
  /// Bounded to [0.05, 1.5]; 1 when that product is too small to be split. Applied to every
  /// split product and weight tile (intra, G x T) whatever its rows, threads and pool backend
  /// (group pools use the threads backend): an assumption, stated in the projection.
  double split = 1;
};

/// What `scale` measured on this machine.
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

/// Threads a product of `flops` runs on when split over up to `threads` (gemm.cpp's rule: at
/// least 1 MFLOP a part).
double split_parts(double flops, std::size_t threads);

/// A product of layer `l` at `rows` rows split over up to `threads` threads by gemm's rule (at
/// least 1 MFLOP per part, the larger of rows and columns cut), GFLOP/s before
/// LayerCalibration::split and contention: parts x the rows curve at one part's share.
double split_rate(const LayerCalibration& l, std::size_t rows, std::size_t threads);

/// One fork/join of `workers` workers, microseconds (measured, else extrapolated or assumed).
double fork_join_us(const Calibration& c, const Assumptions& a, std::size_t workers);

/// "data/owner", "intra", "4x2/owner" (G x T with T > 1), ...
std::string plan_label(const StepPrediction& p);

/// The step of Note [The cost model]. `cores` >= 1; `group_threads` (T, owner and buffers
/// only) divides `cores` (std::invalid_argument otherwise).
StepPrediction predict(const Calibration& c, const Assumptions& a, PlanKind plan, std::size_t cores,
                       std::size_t group_threads = 1);

/// The plan with the lowest predicted step over owner and buffers at every T dividing `cores`
/// and intra (ties: the smaller T, owner before buffers, intra last).
StepPrediction best_plan(const Calibration& c, const Assumptions& a, std::size_t cores);

}  // namespace dptrain::cli
