#pragma once
// The report of `dptrain scale`: per-point statistics of the measured windows, an Amdahl fit per
// strategy with its projection to larger machines (labelled as a projection, never as a
// measurement), the table on stdout, and the CSV and JSON files.
#include <cstddef>
#include <string>
#include <vector>

#include "dptrain/dptrain.hpp"
#include "dptrain/tuning.hpp"
#include "machine_report.hpp"
#include "workloads.hpp"

namespace dptrain::cli {

/// One curve of the sweep: data, intra, or GxT with T threads per group (Note [Groups] in
/// engine.hpp), measured at the thread counts T divides (G = threads / T).
struct Strategy {
  Parallelism parallelism = Parallelism::data;
  std::size_t group_threads = 1;
  /// "data", "intra" or "Gx2" (the CSV's parallelism column).
  std::string name() const;
  bool runs_at(std::size_t threads) const { return threads % group_threads == 0; }
  bool operator==(const Strategy&) const = default;
};
/// The strategy a point runs.
Strategy strategy_of(const Point& p);

/// The sweep the command line asks for, checked before anything is measured.
struct ScaleSettings {
  std::size_t cores = 1;             ///< hardware threads; more threads are oversubscribed
  Reference ref;                     ///< the model, its batch and optimizer
  std::vector<std::size_t> threads;  ///< ascending, without repeats, 1 included (the baseline)
  std::vector<Strategy> strategies;  ///< in the order asked for, without repeats
  TrainConfig base;                  ///< backend, GEMM, determinism
  WindowSettings windows;
  bool weak = false;             ///< weak scaling: a point at T threads steps on ref.batch x T rows
  double noise_threshold = 0.2;  ///< a point is noisy when its spread exceeds this
  std::string csv_path, json_path;                       ///< both empty (no files) or both set
  std::string command;                                   ///< the command line, recorded in the JSON
  std::vector<std::size_t> project = {16, 32, 64, 128};  ///< core counts of the PROJECTION
  Assumptions assumptions;  ///< machine assumptions of the projection (tuning.hpp)
};

/// What the sweep measured.
struct ScaleSweep {
  std::vector<Point> points;  ///< per strategy (in settings order), threads ascending
  std::string cpu, load_start, load_end;
  bool peak_resettable = false;  ///< whether the peak RSS of each window could be measured
  Calibration calibration;       ///< the cost model's parameters, measured after the sweep
};

/// Amdahl's law S(n) = 1 / (f + (1 - f) / n) fitted to the speedups of one strategy.
struct AmdahlFit {
  bool valid = false;
  double serial_fraction = NAN;
  double rms_residual = NAN;  ///< of the speedup, over the points used
  std::vector<std::size_t> threads_used;
  bool oversubscribed_included = false;
};

double amdahl_speedup(double serial_fraction, double n);

/// Least squares on 1/S(n) over (thread count, speedup) pairs; see scale_report.cpp.
AmdahlFit fit_amdahl(const std::vector<std::pair<std::size_t, double>>& speedups,
                     std::size_t cores);

/// Computes the statistics and the fits, prints the table and the fits, and writes the CSV and
/// JSON files when the settings name them.
void report_scale(const ScaleSettings& settings, const ScaleSweep& sweep);

}  // namespace dptrain::cli
