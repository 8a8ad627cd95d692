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

struct RegressionMetrics {
  double sum_squared_error = 0.0;
  double sum_absolute_error = 0.0;
  std::uint64_t count = 0;  ///< number of values (rows x outputs)
  double mse() const { return count ? sum_squared_error / static_cast<double>(count) : 0.0; }
  double mae() const { return count ? sum_absolute_error / static_cast<double>(count) : 0.0; }
  RegressionMetrics& operator+=(const RegressionMetrics& o) {
    sum_squared_error += o.sum_squared_error;
    sum_absolute_error += o.sum_absolute_error;
    count += o.count;
    return *this;
  }
};

/// Predicted class of one row of outputs: argmax, or (one output) output >= 0.5.
template <class T>
std::size_t predicted_class(const T* outputs, std::size_t cols);

}  // namespace dptrain
