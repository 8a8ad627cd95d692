#pragma once
// The workloads `dptrain bench` and `dptrain scale` measure: the reference models (A, B, C, xor,
// square) or a custom one (tuning::Workload plus the fixed-step quality check). How they are
// measured is tuning.hpp's (whose names the commands use unqualified). Everything here throws
// dptrain::Error for bad input (main() maps it to exit status 2).
#include <cstddef>
#include <string>
#include <vector>

#include "dptrain/dptrain.hpp"
#include "dptrain/tuning.hpp"

namespace dptrain::cli {

using namespace dptrain::tuning;  // NOLINT(google-build-using-namespace): the commands' measuring

/// A benchmark workload: the model, its loss and optimizer, the batch size (tuning::Workload),
/// and the learnable data set and step count of the fixed-step quality check (bench --quality).
struct Reference : Workload {
  std::string what;
  std::string quality_data;  ///< data spec of the quality check ("fashion-mnist", "blobs8", ...)
  std::size_t quality_rows = 0;  ///< first N rows of quality_data (0: all)
  std::size_t quality_steps = 0;
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

/// The widths joined with '-' ("784-128-10"), as the tables, CSV files and descriptions show them.
std::string widths_text(const std::vector<std::size_t>& widths);

}  // namespace dptrain::cli
