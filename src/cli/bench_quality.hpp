#pragma once
// `dptrain bench --quality` and `--export`: besides throughput, train each reference model for a
// fixed number of steps on learnable data (fixed initial parameters, fixed cyclic row order, one
// thread) and report the final loss and metric; --export DIR also writes that check's data,
// initial parameters and hyper-parameters so another framework can replay it exactly
// (scripts/bench_pytorch.py --replay DIR; scripts/compare-pytorch.sh).
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dptrain/dptrain.hpp"
#include "workloads.hpp"

namespace dptrain::cli {

struct QualitySettings {
  bool enabled = false;
  std::size_t steps = 0;   ///< steps per model; 0: each model's own quality_steps
  std::string export_dir;  ///< replay files go here when not empty (the folder exists)
};

/// Runs the quality check of every model in order, printing a table, and writes the replay
/// files and their manifest.json when asked. Returns one JSON object per model (with "skipped"
/// and the reason when its data set is unavailable, e.g. Fashion-MNIST not installed).
nlohmann::json run_quality_checks(const std::vector<const Reference*>& models,
                                  const TrainConfig& base, const QualitySettings& settings);

}  // namespace dptrain::cli
