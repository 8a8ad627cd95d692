#pragma once
// Classification and regression metrics.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dptrain {

/// counts[truth][predicted]. Merge per-worker matrices with +=.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(std::size_t classes = 0);
  std::size_t classes() const { return classes_; }
  void add(std::size_t truth, std::size_t predicted) { ++counts_[truth * classes_ + predicted]; }
  std::uint64_t count(std::size_t truth, std::size_t predicted) const {
    return counts_[truth * classes_ + predicted];
  }
  std::uint64_t total() const;
  ConfusionMatrix& operator+=(const ConfusionMatrix& other);

  double accuracy() const;
  /// Per class; 0 when the class was never predicted (precision) or never present (recall).
  double precision(std::size_t c) const;
  double recall(std::size_t c) const;
  double f1(std::size_t c) const;
  /// Unweighted means over classes.
  double macro_precision() const;
  double macro_recall() const;
  double macro_f1() const;

 private:
  std::size_t classes_;
  std::vector<std::uint64_t> counts_;
};

/// Regression metrics in the units of the targets: MSE, RMSE, MAE and R². Per-worker (or
/// per-chunk) metrics merge with +=; merging in a fixed order gives the same sums.
struct RegressionMetrics {
  double sum_squared_error = 0.0;
  double sum_absolute_error = 0.0;
  std::uint64_t count = 0;  ///< number of values (rows x outputs)

  /// One output column: its squared error and its targets' mean and sum of squared deviations
  /// (merged with Chan's pairwise formula, which stays accurate when the mean is large).
  struct Column {
    double sum_squared_error = 0.0;
    std::uint64_t rows = 0;
    double target_mean = 0.0;
    double target_m2 = 0.0;  ///< sum over rows of (y - mean)^2
  };
  std::vector<Column> columns;  ///< filled by add(); empty when only the sums were set

  double mse() const { return count ? sum_squared_error / static_cast<double>(count) : 0.0; }
  double rmse() const;
  double mae() const { return count ? sum_absolute_error / static_cast<double>(count) : 0.0; }
  /// Coefficient of determination 1 - SSE/SST per output column, averaged over the columns
  /// (scikit-learn's r2_score, multioutput="uniform_average"). A column whose targets are all
  /// equal scores 1 when predicted exactly and 0 otherwise (r2_score's force_finite). 0 without
  /// columns.
  double r2() const;

  /// Adds `rows` rows of predictions and targets (rows x cols each, row-major).
  void add(const float* outputs, const float* targets, std::size_t rows, std::size_t cols);
  /// Throws std::logic_error when both sides have columns and their counts differ.
  RegressionMetrics& operator+=(const RegressionMetrics& o);
};

/// Predicted class of one row of outputs: argmax, or (one output) output >= 0.5.
template <class T>
std::size_t predicted_class(const T* outputs, std::size_t cols);

}  // namespace dptrain
