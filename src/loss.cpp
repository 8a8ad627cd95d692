#include "dptrain/loss.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "dptrain/error.hpp"

namespace dptrain {

void check_loss_fits(Loss loss, Activation output, std::size_t outputs) {
  if (loss == Loss::bce && output != Activation::sigmoid)
    throw Error(
        std::string("loss bce needs a sigmoid output layer, not ") + activation_name(output),
        ErrorTopic::output_activation);
  if (loss == Loss::ce && output != Activation::softmax)
    throw Error(std::string("loss ce needs a softmax output layer, not ") + activation_name(output),
                ErrorTopic::output_activation);
  if (loss == Loss::ce && outputs < 2)
    throw Error("loss ce needs at least 2 output units (for 2 classes with one unit use bce)",
                ErrorTopic::loss);
  // Softmax normalises over the units of a row: over one unit its output is always 1 and its
  // gradient always 0, so no loss can move the model (mse trained it to nothing, exit 0).
  if (output == Activation::softmax && outputs < 2)
    throw Error(std::string("a softmax output layer over one unit always outputs 1, so loss ") +
                    loss_name(loss) +
                    " cannot train it: use a sigmoid output (a value in (0, 1)) or identity (any "
                    "value)",
                ErrorTopic::output_activation);
}

namespace {

/// Target value of (row r, column c) as T.
template <class T>
T target_at(const TargetsView& t, std::size_t r, std::size_t c, std::size_t cols) {
  if (t.labels) {
    if (cols == 1) return T(t.labels[r]);
    return t.labels[r] == static_cast<std::int32_t>(c) ? T(1) : T(0);
  }
  return T(t.values[r * t.width + c]);
}

}  // namespace

template <class T>
double loss_forward_backward(Loss loss, Activation output, const T* logits, std::size_t rows,
                             std::size_t cols, TargetsView targets, T grad_scale, T* outputs,
                             T* dlogits) {
  double total = 0.0;
  const T inv_cols = T(1) / T(cols);
  for (std::size_t r = 0; r < rows; ++r) {
    const T* z = logits + r * cols;
    T* out = outputs + r * cols;
    T* dz = dlogits ? dlogits + r * cols : nullptr;
    switch (loss) {
      case Loss::ce: {
        const T max = *std::max_element(z, z + cols);
        T sum_exp = 0;
        for (std::size_t c = 0; c < cols; ++c) sum_exp += std::exp(z[c] - max);
        const T log_sum = max + std::log(sum_exp);
        T row_loss = 0, target_mass = 0;
        for (std::size_t c = 0; c < cols; ++c) {
          const T y = target_at<T>(targets, r, c, cols);
          const T p = std::exp(z[c] - log_sum);
          if (y != T(0)) row_loss -= y * (z[c] - log_sum);
          target_mass += y;
          out[c] = p;
        }
        if (dz)
          for (std::size_t c = 0; c < cols; ++c) {
            const T p = std::exp(z[c] - log_sum);
            dz[c] = (p * target_mass - target_at<T>(targets, r, c, cols)) * grad_scale;
          }
        total += double(row_loss);
        break;
      }
      case Loss::bce: {
        T row_loss = 0;
        for (std::size_t c = 0; c < cols; ++c) {
          const T y = target_at<T>(targets, r, c, cols);
          const T zc = z[c];
          row_loss += std::max(zc, T(0)) - zc * y + std::log1p(std::exp(-std::abs(zc)));
          const T p =
              zc >= 0 ? T(1) / (T(1) + std::exp(-zc)) : std::exp(zc) / (T(1) + std::exp(zc));
          out[c] = p;
          if (dz) dz[c] = (p - y) * inv_cols * grad_scale;
        }
        total += double(row_loss * inv_cols);
        break;
      }
      case Loss::mse: {
        // Work on a = f(z); for softmax the Jacobian couples the row, so go through
        // activation_backward on the row.
        T* a = out;
        T row_loss = 0;
        for (std::size_t c = 0; c < cols; ++c) a[c] = z[c];
        activation_forward(output, a, 1, cols);
        for (std::size_t c = 0; c < cols; ++c) {
          const T diff = a[c] - target_at<T>(targets, r, c, cols);
          row_loss += diff * diff;
          if (dz) dz[c] = diff * inv_cols * grad_scale;
        }
        if (dz) activation_backward(output, a, dz, 1, cols);
        total += double(T(0.5) * row_loss * inv_cols);
        break;
      }
    }
  }
  return total;
}

template double loss_forward_backward<float>(Loss, Activation, const float*, std::size_t,
                                             std::size_t, TargetsView, float, float*, float*);
template double loss_forward_backward<double>(Loss, Activation, const double*, std::size_t,
                                              std::size_t, TargetsView, double, double*, double*);

}  // namespace dptrain
