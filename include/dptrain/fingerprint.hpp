#pragma once
// What a training set was, recorded in checkpoints so that a position inside an epoch is only
// resumed on the rows it was counted on.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "dptrain/data.hpp"

namespace dptrain {

// Note [Data fingerprint]. A checkpoint written inside an epoch (--save-every, a stop) holds the
// steps already done in that epoch; a resumed run skips those batches of the epoch's order,
// which is a function of (seed, epoch, rows). On other rows -- another file, another test
// split, --limit or --val-split -- it would skip batches it never trained and count the epoch
// from sums over other rows, silently. So checkpoints record the training set's row and
// feature counts and a hash of its feature values, labels and targets, and Trainer refuses a
// mid-epoch position on data whose fingerprint differs, saying what differs. An epoch-boundary
// checkpoint holds no position and continues on any data of the model's width (fine-tuning).
// Checkpoints written before the fingerprint existed have none and keep loading; their
// position is checked only against the epoch's step count (the CLI says so when it resumes).
// Batches streamed from a BatchSource have no fingerprint.
struct DataFingerprint {
  std::size_t rows = 0;
  std::size_t features = 0;
  std::uint64_t hash = 0;  ///< of the feature values, labels and targets (in row order)
  bool known() const { return rows > 0; }
  bool operator==(const DataFingerprint&) const = default;
};

/// The fingerprint of `data` (one pass over its values).
DataFingerprint fingerprint(const Dataset& data);

/// fingerprint(), computed again only for another data set (other buffers or shape): a
/// Trainer fingerprints its training set once, not every epoch. Values changed in place
/// between epochs keep the first fingerprint.
class FingerprintCache {
 public:
  DataFingerprint of(const Dataset& data);

 private:
  std::array<std::uintptr_t, 6> key_{};
  DataFingerprint value_;
};

/// Empty when `now` is `recorded`; else what differs, e.g. "data 'csv:b.csv' has 80 rows where
/// the checkpoint's position was counted on 100".
std::string fingerprint_difference(const DataFingerprint& recorded, const DataFingerprint& now,
                                   const std::string& source);

}  // namespace dptrain
