#pragma once
// Feature scaling fitted on training data only and stored with the model (checkpoints), so
// evaluation and prediction see features scaled exactly as in training.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/data.hpp"
#include "dptrain/model.hpp"
#include "dptrain/names.hpp"

namespace dptrain {

enum class Normalization { none, standard, minmax };
/// Note [Name tables].
inline constexpr NameTable<Normalization, 3> kNormalizationNames{
    "normalization",
    {{{Normalization::none, "none"},
      {Normalization::standard, "standard"},
      {Normalization::minmax, "minmax"}}}};
static_assert(kNormalizationNames.complete_through(Normalization::minmax));

/// Throws dptrain::Error naming the value unless kNormalizationNames has it.
inline Normalization parse_normalization(std::string_view name) {
  return kNormalizationNames.parse(name);
}
inline const char* normalization_name(Normalization n) {
  return kNormalizationNames.name(n);
}

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

/// Standardisation of regression targets, y' = (y - offset[k]) * scale[k] per target column k
/// (offset = mean, scale = 1 / std of the training targets; 1 for a constant column). A model
/// trained on y' predicts y'; undo() or fold_into() give predictions in the data's own units.
/// Stored in checkpoints beside the feature Normalizer ("target_normalizer").
struct TargetNormalizer {
  std::vector<float> offset, scale;  ///< one per target column; empty: not in use

  bool active() const { return !offset.empty(); }
  /// Throws dptrain::Error naming the data unless `train` has regression targets.
  static TargetNormalizer fit(const Dataset& train);
  /// Standardises data.targets in place; data without targets (unlabelled) is left alone.
  /// Throws dptrain::Error when the target width differs from the fit.
  void apply(Dataset& data) const;
  /// The inverse of apply on `values` (rows x width, row-major): v / scale + offset.
  void undo(std::span<float> values) const;
  /// Folds undo() into the last dense layer of `model` (w[:, k] /= scale[k], b[k] = b[k] /
  /// scale[k] + offset[k]), so that its outputs, losses and metrics are in the data's units.
  /// Throws dptrain::Error unless the output activation is identity (a sigmoid or softmax
  /// output cannot represent standardised targets) and the output width matches.
  void fold_into(Model<float>& model) const;
  /// Throws dptrain::Error naming `where` unless both vectors have `width` finite entries and
  /// every scale is positive.
  void check(std::size_t width, const std::string& where) const;
};

/// Splits off round(fraction * rows) rows, chosen by a seeded shuffle, as a validation set.
/// Returns {train, validation}. Throws dptrain::Error unless 0 < fraction < 1 and both parts
/// keep at least one row.
std::pair<Dataset, Dataset> split_validation(const Dataset& data, double fraction,
                                             std::uint64_t seed);

}  // namespace dptrain
