#pragma once
// Measurement code shared by `dptrain bench` and `dptrain scale`: the reference models, random
// benchmark data, timed windows of training steps, memory figures, statistics and atomic file
// output. Everything here throws dptrain::Error for bad input (main() maps it to exit status 2).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dptrain/dptrain.hpp"

namespace dptrain::cli {

/// A benchmark workload: the model, its loss and optimizer, the batch size, and the learnable
/// data set and step count of the fixed-step quality check (bench --quality).
struct Reference {
  std::string name;
  std::vector<std::size_t> widths;
  Activation hidden, output;
  Loss loss;
  OptimizerKind optimizer;
  double lr;
  std::size_t batch;
  std::string what;
  std::string quality_data;  ///< data spec of the quality check ("fashion-mnist", "blobs8", ...)
  std::size_t quality_rows;  ///< first N rows of quality_data (0: all)
  std::size_t quality_steps;
};

/// A, B, C, xor, square.
const std::vector<Reference>& references();
/// The reference called `name`; throws Error naming `option` and the known names otherwise.
const Reference& find_reference(const std::string& name, const std::string& option);
/// "A,B,C" -> the references, in order.
std::vector<const Reference*> parse_reference_list(const std::string& list,
                                                   const std::string& option);
/// A custom workload from widths: relu hidden layers; softmax + CE for several outputs, sigmoid
/// + BCE for one; Adam, lr 1e-3.
Reference custom_reference(const std::vector<std::size_t>& widths, std::size_t batch);

/// Random inputs in [0, 1) and random targets of the model's shape: throughput does not depend
/// on the values, and loading is excluded from the measurement.
Dataset bench_data(const Reference& ref, std::size_t rows);

/// A TrainConfig for `ref` on top of the engine settings in `base` (threads, backend, ...).
TrainConfig reference_config(const Reference& ref, const TrainConfig& base, std::size_t threads);

/// Runs training steps over the rows of `data` in a fixed cyclic order.
class StepRunner {
 public:
  StepRunner(const Dataset& data, std::size_t batch);
  /// Steps for at least `seconds`; returns samples per second.
  double run_for(Trainer& trainer, double seconds);

 private:
  void step_once(Trainer& trainer);
  const Dataset& data_;
  std::size_t batch_;
  std::vector<std::uint32_t> order_;
  std::size_t cursor_ = 0;
};

/// Memory the engine allocated for a trainer (parameters, optimizer state, workspaces,
/// gradient buffers, update scratch), computed from its public accessors.
std::size_t engine_bytes(const Trainer& trainer, const Model<float>& model);

/// Resident set size of this process now, and its peak since the last reset_peak_rss()
/// (VmRSS / VmHWM of /proc/self/status; 0 when unavailable).
std::size_t current_rss_bytes();
std::size_t peak_rss_bytes();
/// Resets the kernel's peak-RSS counter (writes 5 to /proc/self/clear_refs); false if refused.
bool reset_peak_rss();

double median(std::vector<double> v);
std::string cpu_model();
/// The 1, 5 and 15 minute load averages ("0.52 0.61 0.70"; empty when unavailable): on a shared
/// machine, the first thing to look at when figures are noisy.
std::string load_average();

/// Single-thread SGEMM rate of (m x k)(k x n), the best of several timed rounds.
double sgemm_gflops(GemmBackend backend, std::size_t m, std::size_t n, std::size_t k,
                    double seconds);

/// Throws Error (naming `option`) unless `path` can be created: its folder exists and is
/// writable, and `path` is not a folder. Called before measuring, so a typo fails in a second.
void check_output_path(const std::string& path, const std::string& option);
/// Writes `content` to a temporary file in the same folder, flushes it to disk and renames it
/// over `path`: readers see the old file or the whole new one, never a part.
void write_file_atomically(const std::string& path, const std::string& content);

/// A CSV field, quoted when it holds a comma, quote or newline (RFC 4180).
std::string csv_field(const std::string& text);
/// A number for CSV: %.6g, empty for NaN/Inf.
std::string csv_number(double value);

}  // namespace dptrain::cli
