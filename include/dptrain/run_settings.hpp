#pragma once
// The settings that define a run's numbers: one value that EngineConfig (and so TrainConfig)
// and Checkpoint share. A checkpoint records them and a resumed run keeps them; they are
// copied and compared as a whole, through one field table (Note [Run settings] in
// src/run_settings.cpp), never field by field at each use.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/loss.hpp"
#include "dptrain/optimizer.hpp"
#include "dptrain/schedule.hpp"
#include "dptrain/shuffle.hpp"

namespace dptrain {

/// What a run computes, as opposed to how it runs (threads, backend, plan, kernel, precision:
/// EngineConfig's own members). The engine steps with the loss, optimizer, seed, batch size
/// and determinism; the Trainer's epoch loop reads the epochs, schedule and shuffle.
struct RunSettings {
  std::size_t batch_size = 32;  ///< the most rows one step takes (global, over all ranks)
  std::uint64_t seed = 42;      ///< weights' draws are the model's; this: order and dropout
  Loss loss = Loss::ce;
  OptimizerConfig optimizer;
  bool deterministic = false;      ///< Note [Reproducibility] (engine.hpp)
  std::size_t micro_batches = 16;  ///< units per step with deterministic
  /// Epochs in all, the schedule's horizon; the one setting a resume may change (raise).
  std::size_t epochs = 10;
  ScheduleConfig schedule;
  bool shuffle = true;
  /// How `shuffle` orders an epoch (shuffle.hpp): full, a uniform permutation of all rows; or
  /// window, shuffled blocks in shuffled windows (Note [Windowed shuffle] in src/shuffle.cpp),
  /// for features memory-mapped from a file larger than memory: the next window is paged in
  /// while the engine steps and the windows behind are dropped (Dataset::borrowed_from_file).
  ShuffleMode shuffle_mode = ShuffleMode::full;
  /// Rows per block of the window shuffle; 0: as many as fill 4 MiB (ShuffleWindows).
  std::size_t shuffle_block_rows = 0;
};

/// One setting whose value differs between two RunSettings.
struct SettingDifference {
  std::string key;       ///< as in checkpoints: "seed", "optimizer/learning_rate"
  std::string flag;      ///< `dptrain train`'s flag that sets it ("lr"); empty when none does
  bool toggle = false;   ///< a bool setting (its flag takes no value)
  std::string given;     ///< the value in `given`, as text ("0.001", "adam", "true")
  std::string recorded;  ///< the value in `recorded`
};

/// The settings a resume keeps (all but `epochs`) whose values differ between `recorded` (a
/// checkpoint's) and `given`, in the table's order; keys in `unrecorded` (settings an older
/// checkpoint lacks, Checkpoint::unrecorded) are skipped.
std::vector<SettingDifference> differences(const RunSettings& recorded, const RunSettings& given,
                                           std::span<const std::string> unrecorded = {});

/// Every setting as "key=value" lines, for fingerprints that ranks compare and for logs.
std::string describe(const RunSettings& settings);

/// Copies the setting named `key` (as in SettingDifference::key) from `from` into `to`.
/// Throws dptrain::Error for a key the table lacks.
void copy_setting(std::string_view key, const RunSettings& from, RunSettings& to);

}  // namespace dptrain
