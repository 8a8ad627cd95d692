#pragma once
// Checkpoints: everything needed to resume training exactly or to deploy a trained model.
//
// File format (version 1, little-endian):
//   8 bytes   magic "DPTCKPT\n"
//   u32       format version
//   u64 n, n bytes   metadata: JSON (architecture, the run's settings: loss, optimizer and
//                    schedule settings, seed, batch size, epochs, shuffle (since "shuffle",
//                    "shuffle_mode" and "shuffle_block_rows" exist; older files lack them);
//                    epoch/step position, normalisation, early-stopping state;
//                    "target_normalizer" only when the targets were standardised; and
//                    "epoch_progress": the position inside an unfinished epoch; and
//                    "data_fingerprint": the training rows, Note [Data fingerprint])
//   u64 n, n floats  parameters (the model's flat layout)
//   u64 n, n floats  optimizer state slot 0 (0 values if the optimizer has none)
//   u64 n, n floats  optimizer state slot 1
//   u32       CRC-32 (zlib) of every byte before it
// The data order and all random draws are pure functions of (seed, epoch, step), so the epoch
// count and step count are the whole RNG and data-order state. Checkpoints are written at epoch
// boundaries and, mid-epoch, at step boundaries (`dptrain train --save-every`, a stop on a
// signal): then "epoch_progress" holds the steps already done in epoch epochs_done + 1 and the
// sums of their losses and metrics, so a resumed run skips those batches of the epoch's order
// and reports the same epoch line as an uninterrupted run. Files without "epoch_progress"
// (written before it existed) are at an epoch boundary.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/fingerprint.hpp"
#include "dptrain/loss.hpp"
#include "dptrain/model.hpp"
#include "dptrain/normalize.hpp"
#include "dptrain/optimizer.hpp"
#include "dptrain/run_settings.hpp"
#include "dptrain/schedule.hpp"
#include "dptrain/schema.hpp"

namespace dptrain {

inline constexpr std::uint32_t kCheckpointVersion = 1;

/// Where an unfinished epoch stands: the steps done in it and the sums over their rows that its
/// epoch line reports. All zero at an epoch boundary.
struct EpochProgress {
  std::size_t steps = 0;          ///< steps done in epoch epochs_done + 1
  std::size_t samples = 0;        ///< rows those steps trained
  std::size_t metric_values = 0;  ///< rows (classification) or rows x outputs (regression)
  double loss_sum = 0;            ///< sum of the per-row losses (before each update)
  double metric_sum = 0;          ///< correct predictions, or sum of squared errors
};

/// The run's settings (RunSettings: loss, optimizer, schedule, seed, batch size, epochs in all,
/// determinism, shuffle) and its training state.
struct Checkpoint : RunSettings {
  ModelSpec spec;
  std::vector<float> parameters;
  /// The settings (RunSettings keys, Note [Run settings] in src/run_settings.cpp) that the file
  /// lacks, having been written before they were recorded: their values above are defaults,
  /// and a resume keeps the run's own. micro_batches also when the file holds 0.
  std::vector<std::string> unrecorded;
  std::size_t epochs_done = 0;
  std::uint64_t step = 0;        ///< optimizer steps taken
  EpochProgress epoch_progress;  ///< inside epoch epochs_done + 1 (zero at a boundary)
  std::vector<float> state0, state1;
  Normalizer normalizer;
  /// Regression targets standardised in training (--normalize-target); inactive when absent.
  TargetNormalizer target_normalizer;
  std::size_t classes = 0;          ///< 0: regression
  double best_validation_loss = 0;  ///< early stopping; meaningful when epochs_since_best is set
  std::size_t epochs_since_best = 0;
  std::string data;  ///< the training data spec, for the record
  /// The rows the last epoch trained on (Note [Data fingerprint]); unknown in older files.
  DataFingerprint data_fingerprint;
  DataSchema schema;  ///< of the training data (schema.hpp); empty in older checkpoints
  /// The `--gemm auto` kernel choice of the run (KernelChoice::encode, Note [Kernel wisdom] in
  /// kernel_choice.hpp); empty for a named kernel and in older checkpoints.
  std::string kernels;
};

/// Serialises / parses the format above. decode_checkpoint throws dptrain::Error naming
/// `source`: not a checkpoint, another format version, truncated, checksum mismatch, or
/// metadata that does not describe a valid model and training state (Note [Checkpoint
/// meaning]: the message names the field). encode_checkpoint throws dptrain::Error for
/// a schema name that is not valid UTF-8 (Note [UTF-8 names] in utf8.hpp).
std::string encode_checkpoint(const Checkpoint& c);
Checkpoint decode_checkpoint(std::string_view bytes, const std::string& source);

/// Atomic write (see io.hpp) / read of a checkpoint file. Both refuse (dptrain::Error) a model
/// whose parameters or optimizer state hold NaN or infinite values: a diverged run never
/// overwrites its last good checkpoint, and eval/predict never run on such a model.
void save_checkpoint(const std::string& path, const Checkpoint& c);
Checkpoint load_checkpoint(const std::string& path);

/// The model a checkpoint describes, with its parameters.
Model<float> model_from_checkpoint(const Checkpoint& c);

}  // namespace dptrain
