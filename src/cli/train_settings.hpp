#pragma once
// The settings and data of `dptrain train`: read from the command line for a fresh run or from
// the checkpoint being resumed, every setting checked before any data are loaded; then the
// training, validation and test sets, normalised. Everything here throws dptrain::Error for bad
// input (main() maps it to exit status 2).
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "dptrain/checkpoint.hpp"
#include "dptrain/dptrain.hpp"
#include "dptrain/normalize.hpp"

namespace dptrain::cli {

/// The model and training settings: from the command line, or from the checkpoint being resumed.
struct TrainSettings {
  TrainConfig config;
  std::optional<Checkpoint> resumed;
  std::string resume_path;
  /// Resumed: the checkpoint's model. Fresh: built by fresh_model_spec() once the data are
  /// loaded, since the default output activation follows the loss, which may follow the data.
  ModelSpec spec;
  // Fresh runs: the model options.
  std::vector<std::size_t> widths;
  bool infer_widths = false;  ///< --hidden: widths.front() and back() come from the data
  Activation hidden = Activation::relu;
  double dropout = 0;
  std::string init = "auto";
  // Both.
  Normalization normalize = Normalization::none;
  bool normalize_target = false;  ///< --normalize-target (resumed: the checkpoint's)
  std::optional<std::size_t> patience;
  std::optional<double> val_split;
};

/// Every setting, checked in this order before any data are loaded; --resume loads the
/// checkpoint. `comm` (MPI ranks, or null) goes into the config.
TrainSettings read_train_settings(const cxxopts::ParseResult& r, Communicator* comm);

/// The training, validation and test sets, normalised.
struct TrainData {
  std::string spec;  ///< --data
  Dataset train;
  std::optional<Dataset> val, test;
  Normalizer normalizer;
  /// --normalize-target: fitted on the training targets, applied to every set's targets.
  TargetNormalizer target_normalizer;
  std::vector<float> test_targets;  ///< the test set's targets in the data's units (when active)
  double load_seconds = 0;          ///< reading the training and test data
};

/// Loads the data and settles a fresh run's loss: --loss, else from the output width for csv and
/// sqlite data (their labels are read as classes unless the loss is mse), else from the data.
/// `progress`: show a long CSV load's progress (load_main_data).
TrainData load_train_data(const cxxopts::ParseResult& r, TrainSettings& s, bool progress);

/// A fresh run's model, once the loss is settled (its default output activation follows it).
ModelSpec fresh_model_spec(const cxxopts::ParseResult& r, const TrainSettings& s);

}  // namespace dptrain::cli
