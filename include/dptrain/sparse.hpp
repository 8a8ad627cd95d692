#pragma once
// Sparse features (SciPy's CSR matrices; one-hot encodings, bag-of-words counts) trained without
// ever densifying the whole matrix.
//
// Note [Sparse rows]. CsrBatchSource is a BatchSource over a borrowed CSR matrix: each epoch it
// visits the rows in full_order (shuffle.hpp), the order Trainer gives a
// Dataset, and gathers each minibatch's rows into a dense batch of max_rows x cols values, the
// only dense memory it holds. The engine then runs on that batch exactly as on the same rows of
// a dense Dataset, so a sparse matrix and its dense equivalent train to the same bits (same
// seed, config and thread count); the time per step is that of dense training plus the gather.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "dptrain/data.hpp"
#include "dptrain/trainer.hpp"

namespace dptrain {

/// A rows x cols matrix in compressed sparse row form, borrowed (the caller keeps the arrays
/// alive and unchanged): row r holds values[k] at column indices[k] for k in
/// [indptr[r], indptr[r + 1]). Columns within a row may come in any order; a duplicate column
/// adds up, as in SciPy.
struct CsrMatrix {
  std::size_t rows = 0, cols = 0;
  std::span<const std::int64_t> indptr;   ///< rows + 1 offsets, non-decreasing, from 0
  std::span<const std::int64_t> indices;  ///< column of each stored value, < cols
  std::span<const float> values;          ///< indptr[rows] stored values, finite
  std::string source = "sparse matrix";   ///< named in messages

  /// Throws dptrain::Error naming `source` and the first bad row: sizes that do not match,
  /// offsets that decrease, a column out of range, a NaN or infinite value.
  void validate() const;
  /// Writes rows `rows` as dense rows of `cols` values each into `out` (rows.size() x cols).
  void gather(std::span<const std::uint32_t> rows, float* out) const;
};

/// See Note [Sparse rows]. Labels and targets come from `labels`, a Dataset of x.rows rows with no
/// features (classes and labels, or target_width and targets); each batch carries those of its
/// rows. `finish`, when set, is applied to every batch before it is handed out (e.g. a
/// Normalizer). Throws dptrain::Error if `x` is invalid or the labels do not match its rows.
class CsrBatchSource : public BatchSource {
 public:
  CsrBatchSource(CsrMatrix x, Dataset labels, std::uint64_t seed, bool shuffle,
                 std::function<void(Dataset&)> finish = {});
  void start_epoch(std::size_t epoch) override;
  bool next_batch(Dataset& batch, std::size_t max_rows) override;
  std::size_t rows_per_epoch() const override { return x_.rows; }

 private:
  CsrMatrix x_;
  Dataset labels_;
  std::uint64_t seed_;
  bool shuffle_;
  std::function<void(Dataset&)> finish_;
  std::vector<std::uint32_t> order_;
  std::size_t next_ = 0;
};

}  // namespace dptrain
