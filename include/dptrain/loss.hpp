#pragma once
// Losses fused with the output activation, computed from the logits for numerical stability.
//
//   mse  per sample: 1/2 * mean over outputs of (f(z) - y)^2, any output activation
//   bce  per sample: mean over outputs of the binary cross-entropy of sigmoid(z) vs y, computed
//        as max(z,0) - z y + log(1 + exp(-|z|)); needs the sigmoid output
//   ce   per sample: -sum_k y_k log softmax(z)_k, via log-sum-exp; needs the softmax output
//
// Targets are integer class labels or real values (one-hot or soft targets, regression values).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dptrain/activation.hpp"
#include "dptrain/names.hpp"

namespace dptrain {

enum class Loss { mse, bce, ce };
/// Note [Name tables].
inline constexpr NameTable<Loss, 3> kLossNames{
    "loss", {{{Loss::mse, "mse"}, {Loss::bce, "bce"}, {Loss::ce, "ce"}}}};
static_assert(kLossNames.complete_through(Loss::ce));

/// Throws dptrain::Error naming the value unless kLossNames has it.
inline Loss parse_loss(std::string_view name) {
  return kLossNames.parse(name);
}
inline const char* loss_name(Loss loss) {
  return kLossNames.name(loss);
}

/// Throws dptrain::Error when the loss does not fit the output layer (bce needs sigmoid, ce needs
/// softmax with at least 2 outputs) or the output layer cannot learn (softmax over one unit is
/// constant, whatever the loss).
void check_loss_fits(Loss loss, Activation output, std::size_t outputs);

/// One shard's targets. Exactly one of labels / values is set. labels: one class index per row
/// (with a single output unit the label, 0 or 1, is the target value; otherwise it selects the
/// one-hot column). values: rows x width real targets, width == number of outputs.
struct TargetsView {
  const std::int32_t* labels = nullptr;
  const float* values = nullptr;
  std::size_t width = 0;
};

/// Computes the loss of `rows` samples from logits (rows x cols) and returns the *sum* of
/// per-sample losses (so shards add up). Writes probabilities/outputs f(z) to `outputs`
/// (rows x cols, required) and, when dlogits is not null, dL/dz scaled by grad_scale (the trainer
/// passes 1 / global batch size, so shard gradients sum to the batch-mean gradient).
template <class T>
double loss_forward_backward(Loss loss, Activation output, const T* logits, std::size_t rows,
                             std::size_t cols, TargetsView targets, T grad_scale, T* outputs,
                             T* dlogits);

}  // namespace dptrain
