#include "dptrain/metrics.hpp"

#include <cmath>
#include <stdexcept>

namespace dptrain {

ConfusionMatrix::ConfusionMatrix(std::size_t classes)
    : classes_(classes), counts_(classes * classes, 0) {}

std::uint64_t ConfusionMatrix::total() const {
  std::uint64_t t = 0;
  for (auto c : counts_) t += c;
  return t;
}

ConfusionMatrix& ConfusionMatrix::operator+=(const ConfusionMatrix& other) {
  if (other.classes_ != classes_)
    throw std::logic_error("ConfusionMatrix::operator+=: class counts differ");
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  return *this;
}

double ConfusionMatrix::accuracy() const {
  const std::uint64_t t = total();
  if (t == 0) return 0.0;
  std::uint64_t correct = 0;
  for (std::size_t c = 0; c < classes_; ++c) correct += count(c, c);
  return double(correct) / double(t);
}

double ConfusionMatrix::precision(std::size_t c) const {
  std::uint64_t predicted = 0;
  for (std::size_t t = 0; t < classes_; ++t) predicted += count(t, c);
  return predicted ? double(count(c, c)) / double(predicted) : 0.0;
}

double ConfusionMatrix::recall(std::size_t c) const {
  std::uint64_t present = 0;
  for (std::size_t p = 0; p < classes_; ++p) present += count(c, p);
  return present ? double(count(c, c)) / double(present) : 0.0;
}

double ConfusionMatrix::f1(std::size_t c) const {
  const double p = precision(c), r = recall(c);
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double ConfusionMatrix::macro_precision() const {
  double s = 0;
  for (std::size_t c = 0; c < classes_; ++c) s += precision(c);
  return classes_ ? s / double(classes_) : 0.0;
}

double ConfusionMatrix::macro_recall() const {
  double s = 0;
  for (std::size_t c = 0; c < classes_; ++c) s += recall(c);
  return classes_ ? s / double(classes_) : 0.0;
}

double ConfusionMatrix::macro_f1() const {
  double s = 0;
  for (std::size_t c = 0; c < classes_; ++c) s += f1(c);
  return classes_ ? s / double(classes_) : 0.0;
}

double RegressionMetrics::rmse() const {
  return std::sqrt(mse());
}

double RegressionMetrics::r2() const {
  if (columns.empty()) return 0.0;
  double sum = 0.0;
  for (const Column& c : columns)
    sum += c.target_m2 > 0 ? 1.0 - c.sum_squared_error / c.target_m2
                           : (c.sum_squared_error == 0 ? 1.0 : 0.0);
  return sum / double(columns.size());
}

void RegressionMetrics::add(const float* outputs, const float* targets, std::size_t rows,
                            std::size_t cols) {
  if (columns.empty()) columns.resize(cols);
  if (columns.size() != cols)
    throw std::logic_error("RegressionMetrics::add: the column count changed");
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < cols; ++k) {
      const double y = targets[r * cols + k];
      const double d = double(outputs[r * cols + k]) - y;
      sum_squared_error += d * d;
      sum_absolute_error += std::abs(d);
      Column& c = columns[k];
      c.sum_squared_error += d * d;
      ++c.rows;  // Welford's update of the mean and M2
      const double delta = y - c.target_mean;
      c.target_mean += delta / double(c.rows);
      c.target_m2 += delta * (y - c.target_mean);
    }
  count += rows * cols;
}

RegressionMetrics& RegressionMetrics::operator+=(const RegressionMetrics& o) {
  sum_squared_error += o.sum_squared_error;
  sum_absolute_error += o.sum_absolute_error;
  count += o.count;
  if (o.columns.empty()) return *this;
  if (columns.empty()) columns.resize(o.columns.size());
  if (columns.size() != o.columns.size())
    throw std::logic_error("RegressionMetrics::operator+=: column counts differ");
  for (std::size_t k = 0; k < columns.size(); ++k) {
    Column& a = columns[k];
    const Column& b = o.columns[k];
    const double n = double(a.rows + b.rows);
    if (b.rows == 0) continue;
    const double delta = b.target_mean - a.target_mean;  // Chan et al.'s pairwise merge
    a.target_m2 += b.target_m2 + delta * delta * double(a.rows) * double(b.rows) / n;
    a.target_mean += delta * double(b.rows) / n;
    a.rows += b.rows;
    a.sum_squared_error += b.sum_squared_error;
  }
  return *this;
}

template <class T>
std::size_t predicted_class(const T* outputs, std::size_t cols) {
  if (cols == 1) return outputs[0] >= T(0.5) ? 1 : 0;
  std::size_t best = 0;
  for (std::size_t c = 1; c < cols; ++c)
    if (outputs[c] > outputs[best]) best = c;
  return best;
}

template std::size_t predicted_class<float>(const float*, std::size_t);
template std::size_t predicted_class<double>(const double*, std::size_t);

}  // namespace dptrain
