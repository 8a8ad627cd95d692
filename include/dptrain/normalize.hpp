#pragma once
// Feature scaling fitted on training data only and stored with the model (checkpoints), so
// evaluation and prediction see features scaled exactly as in training.
#include <string_view>
#include <vector>

#include "dptrain/data.hpp"

namespace dptrain {

enum class Normalization { none, standard, minmax };

/// Parses "none", "standard" or "minmax".
Normalization parse_normalization(std::string_view name);
const char* normalization_name(Normalization n);

/// x' = (x - offset[f]) * scale[f] per feature f.
struct Normalizer {
  Normalization kind = Normalization::none;
  std::vector<float> offset, scale;

  /// standard: offset = mean, scale = 1 / std (1 where a feature is constant).
  /// minmax: offset = min, scale = 1 / (max - min) (1 where a feature is constant).
  static Normalizer fit(Normalization kind, const Dataset& train);
  /// Scales data.x in place. Throws dptrain::Error if the feature count differs from the fit.
  void apply(Dataset& data) const;
  bool active() const { return kind != Normalization::none; }
};

/// Splits off round(fraction * rows) rows, chosen by a seeded shuffle, as a validation set.
/// Returns {train, validation}. Throws dptrain::Error unless 0 < fraction < 1 and both parts
/// keep at least one row.
std::pair<Dataset, Dataset> split_validation(const Dataset& data, double fraction,
                                             std::uint64_t seed);

}  // namespace dptrain
