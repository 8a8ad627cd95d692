#pragma once
// The workloads `dptrain bench` and `dptrain scale` measure: the reference models (A, B, C, xor,
// square) or a custom one, their random benchmark data and their trainer settings. How they are
// measured is measure.hpp. Everything here throws dptrain::Error for bad input (main() maps it to
// exit status 2).
#include <cstddef>
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
/// "A,B,C" -> the references, in order; throws Error naming `option` for an unknown name.
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

/// The widths joined with '-' ("784-128-10"), as the tables, CSV files and descriptions show them.
std::string widths_text(const std::vector<std::size_t>& widths);

}  // namespace dptrain::cli
