#include "dptrain/activation.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "dispatch.hpp"
#include "dptrain/error.hpp"

namespace dptrain {

namespace {

template <class T>
T sigmoid(T z) {
  // Split by sign so exp never overflows.
  if (z >= 0) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

template <class T>
void softmax_rows(T* v, std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; ++r) {
    T* row = v + r * cols;
    const T max = *std::max_element(row, row + cols);
    T sum = 0;
    for (std::size_t c = 0; c < cols; ++c) {
      row[c] = std::exp(row[c] - max);
      sum += row[c];
    }
    const T inv = T(1) / sum;
    for (std::size_t c = 0; c < cols; ++c) row[c] *= inv;
  }
}

}  // namespace

template <class T>
DPTRAIN_CLONES void activation_forward(Activation activation, T* v, std::size_t rows,
                                       std::size_t cols) {
  const std::size_t n = rows * cols;
  switch (activation) {
    case Activation::identity:
      return;
    case Activation::sigmoid:
      for (std::size_t i = 0; i < n; ++i) v[i] = sigmoid(v[i]);
      return;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) v[i] = std::tanh(v[i]);
      return;
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) v[i] = v[i] > T(0) ? v[i] : T(0);
      return;
    case Activation::leaky_relu:
      for (std::size_t i = 0; i < n; ++i) v[i] = v[i] > T(0) ? v[i] : T(kLeakyReluSlope) * v[i];
      return;
    case Activation::softmax:
      softmax_rows(v, rows, cols);
      return;
  }
}

template <class T>
DPTRAIN_CLONES void activation_backward(Activation activation, const T* a, T* g, std::size_t rows,
                                        std::size_t cols) {
  const std::size_t n = rows * cols;
  switch (activation) {
    case Activation::identity:
      return;
    case Activation::sigmoid:
      for (std::size_t i = 0; i < n; ++i) g[i] *= a[i] * (T(1) - a[i]);
      return;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) g[i] *= T(1) - a[i] * a[i];
      return;
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) g[i] = a[i] > T(0) ? g[i] : T(0);
      return;
    case Activation::leaky_relu:
      // a > 0 exactly when z > 0, because the negative slope is positive.
      for (std::size_t i = 0; i < n; ++i) g[i] = a[i] > T(0) ? g[i] : T(kLeakyReluSlope) * g[i];
      return;
    case Activation::softmax:
      for (std::size_t r = 0; r < rows; ++r) {
        const T* ar = a + r * cols;
        T* gr = g + r * cols;
        T dot = 0;
        for (std::size_t c = 0; c < cols; ++c) dot += gr[c] * ar[c];
        for (std::size_t c = 0; c < cols; ++c) gr[c] = ar[c] * (gr[c] - dot);
      }
      return;
  }
}

template void activation_forward<float>(Activation, float*, std::size_t, std::size_t);
template void activation_forward<double>(Activation, double*, std::size_t, std::size_t);
template void activation_backward<float>(Activation, const float*, float*, std::size_t,
                                         std::size_t);
template void activation_backward<double>(Activation, const double*, double*, std::size_t,
                                          std::size_t);

}  // namespace dptrain
