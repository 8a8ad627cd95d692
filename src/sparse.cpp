#include "dptrain/sparse.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "dptrain/error.hpp"
#include "dptrain/shuffle.hpp"

namespace dptrain {

void CsrMatrix::validate() const {
  const auto bad = [this](const std::string& what) { throw Error(source + ": " + what); };
  if (indptr.size() != rows + 1)
    bad("indptr holds " + std::to_string(indptr.size()) + " offsets for " + std::to_string(rows) +
        " rows (expected rows + 1)");
  if (indptr[0] != 0) bad("indptr starts at " + std::to_string(indptr[0]) + ", not 0");
  for (std::size_t r = 0; r < rows; ++r)
    if (indptr[r + 1] < indptr[r])
      bad("indptr decreases at row " + std::to_string(r + 1) + " (" + std::to_string(indptr[r]) +
          " then " + std::to_string(indptr[r + 1]) + ")");
  const auto stored = static_cast<std::size_t>(indptr[rows]);
  if (indices.size() != stored || values.size() != stored)
    bad("indptr ends at " + std::to_string(stored) + " but there are " +
        std::to_string(indices.size()) + " indices and " + std::to_string(values.size()) +
        " values");
  for (std::size_t r = 0; r < rows; ++r)
    for (auto k = static_cast<std::size_t>(indptr[r]); k < static_cast<std::size_t>(indptr[r + 1]);
         ++k) {
      if (indices[k] < 0 || static_cast<std::size_t>(indices[k]) >= cols)
        bad("row " + std::to_string(r + 1) + " has column index " + std::to_string(indices[k]) +
            ", outside 0.." + std::to_string(cols - 1));
      if (!std::isfinite(values[k]))
        bad("row " + std::to_string(r + 1) + ", column " + std::to_string(indices[k] + 1) +
            " holds " + (std::isnan(values[k]) ? "NaN" : "an infinite value"));
    }
}

void CsrMatrix::gather(std::span<const std::uint32_t> which, float* out) const {
  std::fill(out, out + which.size() * cols, 0.0f);
  for (std::size_t i = 0; i < which.size(); ++i) {
    float* row = out + i * cols;
    const std::size_t r = which[i];
    for (auto k = static_cast<std::size_t>(indptr[r]); k < static_cast<std::size_t>(indptr[r + 1]);
         ++k)
      row[indices[k]] += values[k];
  }
}

CsrBatchSource::CsrBatchSource(CsrMatrix x, Dataset labels, std::uint64_t seed, bool shuffle,
                               std::function<void(Dataset&)> finish)
    : x_(std::move(x)),
      labels_(std::move(labels)),
      seed_(seed),
      shuffle_(shuffle),
      finish_(std::move(finish)) {
  x_.validate();
  const std::size_t n = labels_.classification() ? labels_.labels.size()
                        : labels_.target_width   ? labels_.targets.size() / labels_.target_width
                                                 : 0;
  if (n != x_.rows || !labels_.labelled())
    throw Error(x_.source + ": " + std::to_string(x_.rows) + " rows of features but " +
                std::to_string(n) + " rows of labels or targets");
}

void CsrBatchSource::start_epoch(std::size_t epoch) {
  full_order(order_, x_.rows, shuffle_, seed_, epoch);
  next_ = 0;
}

bool CsrBatchSource::next_batch(Dataset& batch, std::size_t max_rows) {
  if (next_ >= order_.size()) return false;
  const std::size_t n = std::min(max_rows, order_.size() - next_);
  const std::span<const std::uint32_t> rows(order_.data() + next_, n);
  next_ += n;
  batch.source = x_.source;
  batch.rows = n;
  batch.features = x_.cols;
  batch.borrowed_x = {};
  batch.x.resize(n * x_.cols);
  x_.gather(rows, batch.x.data());
  batch.classes = labels_.classes;
  batch.target_width = labels_.target_width;
  batch.schema = labels_.schema;
  batch.labels.clear();
  batch.targets.clear();
  for (const std::uint32_t r : rows) {
    if (labels_.classification()) batch.labels.push_back(labels_.labels[r]);
    const std::size_t w = labels_.target_width;
    batch.targets.insert(batch.targets.end(), labels_.targets.begin() + std::ptrdiff_t(r * w),
                         labels_.targets.begin() + std::ptrdiff_t((r + 1) * w));
  }
  if (finish_) finish_(batch);
  return true;
}

}  // namespace dptrain
