#pragma once
// How `dptrain bench` and `dptrain scale` measure: a Point (a model with fixed initial parameters
// and the trainer settings to run it with), timed windows of training steps after a warm-up,
// the windows interleaved over the points within each repeat, and the statistics of the windows
// (median, spread, per-window ratios against a baseline point). Also the machine facts both
// report (CPU, load, memory, SGEMM rate) and their CSV/JSON output helpers.
//
// Note [Interleaved windows]. Every repeat runs one window of every point, back to back, so a
// slow drift of a shared machine (a neighbour process, thermal limits) hits all points alike, and
// a ratio of two points' windows of the same repeat cancels it. Speedups are therefore medians
// of per-window ratios, never ratios of medians. Only one Trainer (and so one worker pool) is
// alive at a time: oneTBB applies the smallest thread limit of all live pools.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dptrain/dptrain.hpp"
#include "options.hpp"
#include "workloads.hpp"

namespace dptrain::cli {

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
  TrainConfig config;  ///< config.parallelism is the strategy
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

/// The point of `ref` at `threads` threads with the given strategy, on the engine settings of
/// `base` (backend, GEMM, determinism).
Point make_point(const Reference& ref, const TrainConfig& base, std::size_t threads,
                 Parallelism parallelism);

struct WindowSettings {
  double seconds = 1;       ///< timed length of a window
  double warmup = 0.25;     ///< untimed steps before it (pages, caches, wake-up)
  std::size_t repeats = 1;  ///< windows per point
};

/// Measures every point `repeats` times (Note [Interleaved windows]) on random data of `ref`'s
/// shape; appends one window to each point per repeat and calls `on_repeat(r)` after repeat r.
/// All points must run `ref`'s model; each steps with its own config.batch_size (the same as
/// `ref`'s, or larger for weak scaling).
void measure_interleaved(const Reference& ref, std::vector<Point>& points,
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
std::string cpu_model();
/// The 1, 5 and 15 minute load averages ("0.52 0.61 0.70"; empty when unavailable): on a shared
/// machine, the first thing to look at when figures are noisy.
std::string load_average();

/// Single-thread SGEMM rate of (m x k)(k x n), the best of several timed rounds.
double sgemm_gflops(GemmBackend backend, std::size_t m, std::size_t n, std::size_t k,
                    double seconds);

/// The topology for result files: cores, pus, l3_groups and numa_nodes (counts), the cores of
/// each L3 group and NUMA node with its bytes, the source (hwloc or fallback) and describe().
nlohmann::json topology_json(const Topology& topology);

/// A number for JSON: null for NaN/Inf.
nlohmann::json json_number(double value);
/// Writes `doc` indented by 2, with a final newline, atomically (dptrain::write_file_atomically).
void write_json(const std::string& path, const nlohmann::json& doc);

/// A CSV field, quoted when it holds a comma, quote or newline (RFC 4180).
std::string csv_field(const std::string& text);
/// A number for CSV: %.6g, empty for NaN/Inf.
std::string csv_number(double value);
/// The fields, already formatted, joined by commas and ended by a newline.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace dptrain::cli
