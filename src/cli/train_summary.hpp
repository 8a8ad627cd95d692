#pragma once
// The closing lines of `dptrain train`: the summary line (epochs, time, samples/s, the best
// validation epoch, the test metrics; printed under --quiet too) and, with --normalize-target,
// the test set scored in the data's units.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "dptrain/dptrain.hpp"
#include "train_settings.hpp"

namespace dptrain::cli {

/// What the closing summary line says, gathered from this run's epoch reports.
struct RunSummary {
  std::size_t first_epoch = 0, last_epoch = 0;  ///< 1-based; 0: no epoch trained
  double train_seconds = 0, samples = 0;
  double load_seconds = 0;     ///< reading the data, before training
  std::size_t best_epoch = 0;  ///< lowest validation loss (early stopping's criterion); 0: none
  std::optional<Evaluation> best;
  bool standardised_targets = false;  ///< --normalize-target: validation in standard units
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  /// Called for every epoch report of fit(), in order.
  void add(const EpochReport& e);
};

/// "test_acc 0.8638", or for regression "test_mse 0.0123, test_rmse 0.111, test_mae 0.08,
/// test_r2 0.95"; `prefix` is "test_" or "val_".
std::string metrics_text(const Evaluation& e, const char* prefix);

/// Prints the summary line on stdout: "summary: data loaded in 0.05s; epochs 1-10 in 3.21s
/// (187149 samples/s); best epoch 7 (val_loss 0.3012, val_acc 0.8890, restored); test_loss
/// 0.3944, test_acc 0.8638".
void print_summary(const RunSummary& s, const FitResult& result,
                   const std::optional<Evaluation>& test);

/// --normalize-target: the test set's loss and metrics in the data's units, from a copy of the
/// model whose last layer undoes the standardisation. Requires d.test and an active
/// d.target_normalizer.
Evaluation test_in_data_units(const Model<float>& model, const TrainData& d,
                              const TrainConfig& config);

}  // namespace dptrain::cli
